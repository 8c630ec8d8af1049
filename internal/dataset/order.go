package dataset

import (
	"sort"
	"unicode/utf8"
)

// PyLess reports whether a sorts before b as Python's sorted() orders the
// str values os.scandir and os.walk return for the same file names, which
// is how torchvision's ImageFolder orders classes and files. Python
// compares code points; a byte that is not valid UTF-8 becomes the lone
// surrogate U+DC80..U+DCFF (the surrogateescape error handler). For valid
// UTF-8 this is Go's byte order; it differs when a name holds such bytes
// (say a Latin-1 "\xfcber") next to characters above U+DCFF (U+E000 and up:
// CJK compatibility forms, emoji).
func PyLess(a, b string) bool {
	for a != "" && b != "" {
		ra, na := pyRune(a)
		rb, nb := pyRune(b)
		if ra != rb {
			return ra < rb
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b != ""
}

// pyRune decodes the first code point of s as Python's surrogateescape
// decoding of UTF-8 does.
func pyRune(s string) (rune, int) {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n <= 1 {
		return 0xDC00 + rune(s[0]), 1
	}
	return r, n
}

// SortPy sorts names as Python's sorted() does (see PyLess).
func SortPy(names []string) {
	sort.SliceStable(names, func(i, j int) bool { return PyLess(names[i], names[j]) })
}
