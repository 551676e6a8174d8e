package directory

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

func TestOrgNamesThatCouldImitateAnotherAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name, why string
		ok        bool
	}{
		{"Globex", "plain Latin", true},
		{"Acme Corp. (EU) #2", "Latin with Common punctuation and digits", true},
		{"Глобекс", "all Cyrillic, not all look-alikes", true},
		{"Ελληνικά", "all Greek, not all look-alikes", true},
		{"株式会社Acme", "Japanese: Han with Latin", true},
		{"ソニー株式会社 Sony", "Japanese: Katakana, Han, Latin", true},
		{"삼성전자 Samsung 電子", "Korean: Hangul, Han, Latin", true},
		{"شركة Acme", "Latin with Arabic (moderately restrictive)", true},
		{"Société Générale", "Latin with precomposed accents", true},
		{"Cafe\u0301 Noir", "a combining accent on a letter (NFC composes it)", true},
		{"Acme™ Labs", "a symbol", true},

		{"Glob\u0435x", "a Cyrillic е inside a Latin word", false},
		{"Αcme", "a Greek capital alpha before Latin letters", false},
		{"Acme\u200dCorp", "zero-width joiner", false},
		{"Acme\u200bCorp", "zero-width space", false},
		{"Acme\u200cCorp", "zero-width non-joiner", false},
		{"Acme\u202eproC", "right-to-left override", false},
		{"\u2066Acme\u2069", "bidi isolates", false},
		{"Acme\u200e", "left-to-right mark", false},
		{"Ac\u00adme", "soft hyphen", false},
		{"Acme\ufe0f", "variation selector", false},
		{"Acme\u00a0Inc", "no-break space", false},
		{"Ａｃｍｅ", "fullwidth Latin letters", false},
		{"\ufb01nance", "ligature fi", false},
		{"Acme\u0301\u0301", "a repeated accent", false},
		{"\u0301Acme", "an accent with no letter", false},
		{"A\u0300\u0301\u0302\u0303cme", "four stacked accents", false},
		{"Тесо", "all Cyrillic letters that look Latin (Teco)", false},
		{"ΑΒΕ", "all Greek letters that look Latin (ABE)", false},
		{"Globex Глобекс", "Latin and Cyrillic words side by side", false},
		{"Acme\ue000", "private use", false},
	} {
		t.Run(tc.why, func(t *testing.T) {
			err := validateOrgName(normalizeOrgName(tc.name))
			if tc.ok && err != nil {
				t.Fatalf("%q refused: %v", tc.name, err)
			}
			if !tc.ok {
				var inv *InvalidError
				if !errors.As(err, &inv) || inv.Field != "name" {
					t.Fatalf("%q accepted or wrong error: %v", tc.name, err)
				}
				if strings.ContainsAny(inv.Message, "\u200d\u202e\u2066") {
					t.Fatalf("the message echoes an invisible character: %q", inv.Message)
				}
			}
		})
	}
}

func TestOrgNamesAreStoredInNFC(t *testing.T) {
	if got := normalizeOrgName("Cafe\u0301"); got != "Caf\u00e9" {
		t.Fatalf("normalizeOrgName = %q", got)
	}
}

func TestLookalikeTableHoldsOnlyCyrillicAndGreekLetters(t *testing.T) {
	for _, r := range latinLookalikes {
		if !unicode.IsLetter(r) || (scriptOf(r) != scriptCyrillic && scriptOf(r) != scriptGreek) {
			t.Errorf("%q (U+%04X) is %s", r, r, scriptOf(r))
		}
	}
}
