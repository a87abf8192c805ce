package portable

import (
	"runtime"
	"testing"
)

func TestByteOrder(t *testing.T) {
	want := map[string]string{"ppc64": "big", "s390x": "big", "mips": "big"}[runtime.GOARCH]
	if want == "" {
		want = "little"
	}
	if got := ByteOrder(); got != want {
		t.Fatalf("ByteOrder() on %s = %s, want %s", runtime.GOARCH, got, want)
	}
}

func TestWordBits(t *testing.T) {
	want := map[string]int{"386": 32, "arm": 32}[runtime.GOARCH]
	if want == 0 {
		want = 64
	}
	if got := WordBits(); got != want {
		t.Fatalf("WordBits() on %s = %d, want %d", runtime.GOARCH, got, want)
	}
}

func TestLoadLE32(t *testing.T) {
	if got := LoadLE32([]byte{0x78, 0x56, 0x34, 0x12}); got != 0x12345678 {
		t.Fatalf("LoadLE32 = %#x", got)
	}
}
