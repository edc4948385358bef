package cli

import "testing"

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, value, text string }{
		{"nightly", "nightly", "nightly"},
		{"sauvegarde été", "sauvegarde été", "sauvegarde été"},
		{"a b", "a b", "a b"},
		{"x\n  OK  fake\x1b[2K", `"x\n  OK  fake\x1b[2K"`, `x OK fake\x1b[2K`},
		{"tab\there", `"tab\there"`, "tab here"},
		{"cr\rline", `"cr\rline"`, "cr line"},
		{"bidi\u202eevil", `"bidi\u202eevil"`, `bidi\u202eevil`},
		{"bad\xffutf8", `"bad\xffutf8"`, `bad\xffutf8`},
		{"replacement \uFFFD ok", "replacement \uFFFD ok", "replacement \uFFFD ok"},
		{"bell\a", `"bell\a"`, `bell\a`},
	} {
		if got := printable(tc.in); got != tc.value {
			t.Errorf("printable(%q) = %s, want %s", tc.in, got, tc.value)
		}
		if got := printableText(tc.in); got != tc.text {
			t.Errorf("printableText(%q) = %s, want %s", tc.in, got, tc.text)
		}
	}
}
