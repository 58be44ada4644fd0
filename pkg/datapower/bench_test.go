package datapower

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// logConsole is a logged-in console whose `show file big` prints size bytes of log lines.
func logConsole(b *testing.B, size int) Conn {
	line := "20200618T232339.332Z [0x88e000d7][apic-gw-service][notice] apic-gw-service(default): tid(2653): Waiting for gateway service registration.\n"
	big := strings.Repeat(line, size/len(line)+1)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	go func() {
		defer outW.Close()
		sc := bufio.NewScanner(inR)
		for sc.Scan() {
			if sc.Text() == "show file big" {
				_, _ = io.WriteString(outW, big)
			}
			_, _ = io.WriteString(outW, "idg# ")
		}
	}()
	b.Cleanup(func() { _ = inW.Close(); _ = outR.Close() })
	return struct {
		io.Reader
		io.Writer
	}{outR, inW}
}

// Reading a command's output takes time linear in its size: the prompt is looked for in what
// arrived since the last line end, not in the whole output per chunk.
func BenchmarkLargeOutput(b *testing.B) {
	for _, size := range []int{256 << 10, 1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, logConsole(b, size), Credentials{Username: "admin", Password: "pw"},
				Options{CommandTimeout: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				out, err := s.Run(ctx, "show file big")
				if err != nil || len(out) < size {
					b.Fatalf("%d bytes, %v", len(out), err)
				}
			}
		})
	}
}
