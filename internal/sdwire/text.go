package sdwire

import (
	"strings"
	"unicode/utf8"
)

// AppendText appends s to b as one line of text for the manager (STATUS=)
// or a probe's body: control characters become spaces and invalid UTF-8
// becomes U+FFFD. It is the one rule for the text the module shows an
// operator in `systemctl status`.
func AppendText(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				c = ' '
			}
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// OneLine is s by AppendText's rule, trimmed, and cut to at most max bytes
// on a rune boundary.
func OneLine(s string, max int) string {
	s = strings.TrimSpace(string(AppendText(make([]byte, 0, len(s)), s)))
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
