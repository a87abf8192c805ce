// Package portable answers what differs between machines: byte order and
// word size. Its tests run for any GOARCH through `go test -exec 'xemu run'`.
package portable

import (
	"encoding/binary"
	"unsafe"
)

// ByteOrder says how this machine stores a multi-byte integer.
func ByteOrder() string {
	probe := uint32(0x01020304)
	if *(*byte)(unsafe.Pointer(&probe)) == 0x04 {
		return "little"
	}
	return "big"
}

// WordBits is the size of a pointer in bits.
func WordBits() int { return int(unsafe.Sizeof(uintptr(0))) * 8 }

// LoadLE32 reads a little-endian file field the same way on any machine.
func LoadLE32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
