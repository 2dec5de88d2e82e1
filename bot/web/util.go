package web

import (
	"fmt"

	"github.com/viza-app/viza/locales"
)

func mustLocalizer(lang string) *locales.Localizer {
	l, err := locales.For(lang)
	if err != nil {
		panic(fmt.Sprintf("locales: %v", err)) // embedded and tested: a build defect
	}
	return l
}
