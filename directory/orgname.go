package directory

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Organization names are shown on sign-in pages, so a name must not be able
// to imitate another organization's (docs/security.md, "Grants and tenant
// inputs"). The checks follow Unicode Technical Standard #39 (security
// mechanisms): names are stored in NFC; invisible and text-direction
// characters are refused; the letters must satisfy the "Moderately
// Restrictive" level; and a name written only in Cyrillic or Greek letters
// that all look like Latin ones is refused as a whole-script confusable.

// normalizeOrgName returns name in Unicode Normalization Form C, the form it
// is compared and stored in.
func normalizeOrgName(name string) string { return norm.NFC.String(name) }

// The scripts that may be mixed with others. Common and Inherited characters
// (digits, punctuation, combining marks) belong to every script.
const (
	scriptLatin    = "Latin"
	scriptHan      = "Han"
	scriptHiragana = "Hiragana"
	scriptKatakana = "Katakana"
	scriptHangul   = "Hangul"
	scriptBopomofo = "Bopomofo"
	scriptCyrillic = "Cyrillic"
	scriptGreek    = "Greek"
)

// scriptOf returns the Unicode script of r, "" for Common and Inherited.
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if unicode.IsLetter(r) {
			return scriptLatin
		}
		return ""
	}
	if unicode.Is(unicode.Common, r) || unicode.Is(unicode.Inherited, r) {
		return ""
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return "Unknown"
}

// allowedScriptSets are the combinations UTS #39 "Highly Restrictive" admits
// besides a single script: Japanese, Chinese with Bopomofo, and Korean, each
// with Latin.
func allowedScriptSets() [3][]string {
	return [3][]string{
		{scriptLatin, scriptHan, scriptHiragana, scriptKatakana},
		{scriptLatin, scriptHan, scriptBopomofo},
		{scriptLatin, scriptHan, scriptHangul},
	}
}

// invisible reports characters that show nothing or change the direction of
// the text around them, beyond the format characters (category Cf): the
// combining grapheme joiner, variation selectors and Hangul fillers.
func invisible(r rune) bool {
	switch {
	case unicode.Is(unicode.Cf, r), r == 0x034F, r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF,
		r == 0x115F, r == 0x1160, r == 0x3164, r == 0xFFA0:
		return true
	}
	return false
}

// latinLookalikes are the Cyrillic and Greek letters whose prototype in
// Unicode's confusables data (confusables.txt, UTS #39) is one Latin letter.
const latinLookalikes = "АВЕЅІЈКМНОРСТХҮԚԜаеѕіјорсухүһԁԛԝӏ" + // Cyrillic
	"ΑΒΕΖΗΙΚΜΝΟΡΤΥΧονρι" // Greek

// checkOrgNameText applies the rules above to a name already in NFC.
func checkOrgNameText(name string) error {
	var scripts []string
	var prev rune
	letters, lookalike := 0, 0
	for i, r := range name {
		switch {
		case invisible(r):
			return invalid("name", "organization name must not contain invisible or text-direction characters (U+%04X)", r)
		case r != ' ' && !unicode.IsPrint(r):
			return invalid("name", "organization name must contain only letters, digits, punctuation, symbols and plain spaces (U+%04X is not allowed)", r)
		case isMark(r):
			if i == 0 || !unicode.IsLetter(prev) && !isMark(prev) {
				return invalid("name", "organization name has an accent mark on no letter (U+%04X)", r)
			}
		case (unicode.IsLetter(r) || unicode.IsDigit(r)) && norm.NFKC.String(string(r)) != string(r):
			return invalid("name", "organization name must not use compatibility forms such as fullwidth letters or ligatures (%q): type the plain letters", string(r))
		}
		prev = r
		if s := scriptOf(r); s != "" && !slices.Contains(scripts, s) {
			scripts = append(scripts, s)
		}
		if unicode.IsLetter(r) {
			letters++
			if strings.ContainsRune(latinLookalikes, r) {
				lookalike++
			}
		}
	}
	if err := checkMarks(name); err != nil {
		return err
	}
	if !mayMixScripts(scripts) {
		slices.Sort(scripts)
		return invalid("name", "organization name mixes letters of different scripts (%s): write it in one script, so that it cannot imitate another organization's name", strings.Join(scripts, " and "))
	}
	if len(scripts) == 1 && (scripts[0] == scriptCyrillic || scripts[0] == scriptGreek) && letters > 0 && lookalike == letters {
		return invalid("name", "organization name is written in %s letters that all look like Latin ones, so it could imitate a Latin name: write it in Latin letters", scripts[0])
	}
	return nil
}

func isMark(r rune) bool { return unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) }

// maxMarks bounds the accent marks on one letter (stacked marks hide what is
// underneath).
const maxMarks = 3

// checkMarks refuses, in the decomposed form (NFD), a mark repeated on the
// same letter and more than maxMarks marks on one letter (UTS #39,
// "Optional Detection").
func checkMarks(name string) error {
	var marks []rune
	for _, r := range norm.NFD.String(name) {
		if !isMark(r) {
			marks = marks[:0]
			continue
		}
		if slices.Contains(marks, r) {
			return invalid("name", "organization name repeats an accent mark on one letter (U+%04X)", r)
		}
		if marks = append(marks, r); len(marks) > maxMarks {
			return invalid("name", "organization name stacks more than %d accent marks on one letter", maxMarks)
		}
	}
	return nil
}

// mayMixScripts is the UTS #39 "Moderately Restrictive" level: one script;
// or Latin with Han and Hiragana/Katakana, with Han and Bopomofo, or with
// Han and Hangul; or Latin with any one other script except Cyrillic and
// Greek (whose letters imitate Latin ones).
func mayMixScripts(scripts []string) bool {
	if len(scripts) <= 1 {
		return true
	}
	for _, set := range allowedScriptSets() {
		if subset(scripts, set) {
			return true
		}
	}
	if len(scripts) == 2 && slices.Contains(scripts, scriptLatin) {
		other := scripts[0]
		if other == scriptLatin {
			other = scripts[1]
		}
		return other != scriptCyrillic && other != scriptGreek
	}
	return false
}

func subset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}
