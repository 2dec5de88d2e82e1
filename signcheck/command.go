package signcheck

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Command verifies with a program on this host, such as КриптоПро CSP's
// cryptcp: Args name the files with {data} and {sig}; exit status 0 means
// the signature holds, any other status that it does not (its output
// says why). A program that cannot run, or runs past Timeout, is no
// answer.
type Command struct {
	Args    []string
	Timeout time.Duration
}

// Name says who checked.
func (c *Command) Name() string { return "command" }

// Verify writes data and sig to a private folder and runs the command on
// them.
func (c *Command) Verify(ctx context.Context, data, sig []byte) (Verdict, error) {
	if len(c.Args) == 0 {
		return Verdict{}, errors.New("no command")
	}
	dir, err := os.MkdirTemp("", "viza-verify-")
	if err != nil {
		return Verdict{}, err
	}
	defer os.RemoveAll(dir)
	dataPath, sigPath := filepath.Join(dir, "document"), filepath.Join(dir, "document.sig")
	if err := os.WriteFile(dataPath, data, 0o600); err != nil {
		return Verdict{}, err
	}
	if err := os.WriteFile(sigPath, sig, 0o600); err != nil {
		return Verdict{}, err
	}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = strings.NewReplacer("{data}", dataPath, "{sig}", sigPath, "{dir}", dir).Replace(a)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second // a child that keeps the output open does not hold us
	err = cmd.Run()
	// The verifier's words without the private folder's path.
	said := bytes.ReplaceAll(out.Bytes(), []byte(dir+string(filepath.Separator)), nil)
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return Verdict{}, fmt.Errorf("%s: no answer within %s", filepath.Base(args[0]), timeout)
	case errors.As(err, &exit):
		return Verdict{Message: cmp.Or(Excerpt(said), fmt.Sprintf("%s exited with %d", filepath.Base(args[0]), exit.ExitCode()))}, nil
	case err != nil:
		return Verdict{}, fmt.Errorf("run %s: %w", filepath.Base(args[0]), err)
	}
	return Verdict{Valid: true, Message: Excerpt(said)}, nil
}
