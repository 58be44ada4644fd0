package datapower

import "testing"

// The output's tail, kept up to date chunk by chunk, is the tail of the whole output read at
// once, wherever the chunks end: in a prompt, a log line, an ANSI escape or between "\r" and "\n".
func TestOutputTailAcrossChunks(t *testing.T) {
	log := "20200618T232339.332Z [0x88e000d7][apic-gw-service][notice] apic-gw-service(default): tid(2653): Waiting."
	domainLog := "20180815T125529.165Z [apiconnect][0x80e0027d][system][error] : tid(17680): x"
	for name, text := range map[string]string{
		"prompt then logs":       "show x\nout\nidg[apiconnect]# " + log + "\n" + log + "\n",
		"logs then prompt":       log + "\n" + domainLog + "\nidg# ",
		"tty line ends":          "show x\r\nout\r\nidg(config)# " + log + "\r\n" + log + "\r\n",
		"lone carriage returns":  "a\rb\ridg# " + log + "\r",
		"ansi":                   "\x1b[1mAddress\x1b[0m\n\x1b[32midg#\x1b[0m ",
		"question then log":      "Continue? [y/n]: " + log + "\n",
		"text before a log":      "not a prompt " + log + "\n",
		"partial log line":       "idg# " + log[:40],
		"prompt, log, then text": "idg# " + log + "\nmore output\n",
		"no prompt":              "line one\nline two\n",
	} {
		t.Run(name, func(t *testing.T) {
			for size := 1; size <= len(text); size++ {
				var o output
				for i := 0; i < len(text); i += size {
					o.WriteString(text[i:min(i+size, len(text))])
					prefix := text[:min(i+size, len(text))]
					if got, want := o.tail(), lastLine(cleanText(prefix)); got != want {
						t.Fatalf("chunks of %d, after %q: tail %q, want %q", size, prefix, got, want)
					}
					gk, gm := o.classify()
					if wk, wm := classifyTail(prefix); gk != wk || gm != wm {
						t.Fatalf("chunks of %d, after %q: %v %+v, want %v %+v", size, prefix, gk, gm, wk, wm)
					}
				}
			}
		})
	}
}

func FuzzOutputTail(f *testing.F) {
	f.Add("idg# 20200618T232339.332Z [0x8][a][notice] x\r\n", 3)
	f.Fuzz(func(t *testing.T, text string, size int) {
		if size <= 0 || size > len(text) {
			return
		}
		var o output
		for i := 0; i < len(text); i += size {
			o.WriteString(text[i:min(i+size, len(text))])
			if got, want := o.tail(), lastLine(cleanText(text[:min(i+size, len(text))])); got != want {
				t.Fatalf("tail %q, want %q", got, want)
			}
		}
	})
}
