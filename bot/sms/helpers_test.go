package sms_test

import (
	"errors"

	"github.com/viza-app/viza/flows"
)

func asError(err error, e **flows.Error) bool { return errors.As(err, e) }
