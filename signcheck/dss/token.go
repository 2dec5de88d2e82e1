package dss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// TokenCommand gets a signer's token from a program: Args name the
// signer's DSS login with {user}; the program prints the bearer token.
// How an application acts in a signer's name differs between DSS
// installations (an operator's delegated rights, a refresh token the
// signer granted once), so Viza leaves it to the company's own script
// rather than guess; the script may cache tokens as it likes.
type TokenCommand struct {
	Args    []string
	Timeout time.Duration
}

// Token implements TokenSource.
func (c *TokenCommand) Token(ctx context.Context, user string) (string, error) {
	if len(c.Args) == 0 {
		return "", errors.New("no token command")
	}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = strings.ReplaceAll(a, "{user}", user)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	// Its error output is not kept: a token script's words may hold a
	// secret, and the error goes to the log and /readyz.
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("%s: no token within %s", filepath.Base(args[0]), timeout)
	case err != nil:
		return "", fmt.Errorf("%s: %w", filepath.Base(args[0]), err)
	}
	token := strings.TrimSpace(out.String())
	if token == "" || strings.ContainsAny(token, " \n\r\t") {
		return "", fmt.Errorf("%s printed no single token", filepath.Base(args[0]))
	}
	return token, nil
}
