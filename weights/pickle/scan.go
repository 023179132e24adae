package pickle

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// Budgets of one pickle, checked by scanPickle before gopickle runs: a state
// dict pickle of the largest GPT-2 (gpt2-xl, about 600 tensors) uses about
// 20 thousand opcodes, a mark depth of 4 and no integer wider than 10 bytes
// (the legacy magic number), so each limit leaves a wide margin while
// bounding what a crafted pickle can make the unpickler allocate (about 100
// bytes per opcode at most) and how long it can make it work (linear).
const (
	maxOpcodes   = 1 << 20 // opcodes, each one stack slot or memo entry at most
	maxMarkDepth = 256     // open MARKs: each allocates a stack in gopickle
	maxIntBytes  = 64      // LONG1/LONG4 bytes: gopickle decodes them in quadratic time
	maxLineBytes = 256     // decimal INT, LONG, FLOAT, GET, PUT and global-name lines
)

// scanPickle walks one pickle's opcodes from r, which holds at most limit
// bytes, and returns the pickle's length up to and including STOP. It checks
// every declared length against what is left, so that the unpickler never
// allocates for data that is not there (gopickle allocates first, then
// reads), and it enforces the budgets above, naming the one exceeded.
func scanPickle(r *bufio.Reader, limit int64) (int64, error) {
	var n int64
	readN := func(k int64) ([]byte, error) {
		if k > limit-n {
			return nil, fmt.Errorf("pickle opcode at byte %d declares %d bytes, only %d remain", n, k, limit-n)
		}
		if k <= 8 {
			var b [8]byte
			if _, err := io.ReadFull(r, b[:k]); err != nil {
				return nil, err
			}
			n += k
			return b[:k], nil
		}
		if _, err := r.Discard(int(k)); err != nil {
			return nil, err
		}
		n += k
		return nil, nil
	}
	// readLine reads a newline-terminated argument of at most max bytes.
	readLine := func(max int64) error {
		start := n
		for {
			if n >= limit {
				return io.ErrUnexpectedEOF
			}
			if max > 0 && n-start > max {
				return fmt.Errorf("line longer than %d bytes (the budget of this opcode)", max)
			}
			c, err := r.ReadByte()
			if err != nil {
				return err
			}
			n++
			if c == '\n' {
				return nil
			}
		}
	}
	ops, depth := 0, 0
	for {
		if n >= limit {
			return n, fmt.Errorf("pickle ends at byte %d without a STOP opcode", n)
		}
		op, err := r.ReadByte()
		if err != nil {
			return n, fmt.Errorf("pickle ends at byte %d without a STOP opcode: %w", n, err)
		}
		at := n
		n++
		if ops++; ops > maxOpcodes {
			return n, fmt.Errorf("pickle has more than %d opcodes (the budget of a state dict pickle) at byte %d; the file is not a plain state dict", maxOpcodes, at)
		}
		switch op {
		case '(': // MARK
			if depth++; depth > maxMarkDepth {
				return n, fmt.Errorf("pickle nests more than %d MARKs at byte %d (the budget of a state dict pickle); the file is not a plain state dict", maxMarkDepth, at)
			}
		case 't', 'l', 'd', 'e', 'u', '1', 0x90, 0x91, 'o', 'i': // pop a MARK
			depth = max(depth-1, 0)
		}
		var k int64 = -1 // bytes of fixed-size argument
		var lenBytes int // size of a length prefix
		switch op {
		case '.': // STOP
			return n, nil
		case '(', '0', '1', '2', 'N', ')', ']', '}', 'a', 'e', 's', 'u', 't', 'l', 'd', 'o', 'R', 'b', 'Q',
			0x81, 0x92, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x93, 0x94, 0x97, 0x98:
			k = 0
		case 'K', 'q', 'h', 0x80, 0x82:
			k = 1
		case 'M', 0x83:
			k = 2
		case 'J', 'r', 'j', 0x84:
			k = 4
		case 'G':
			k = 8
		case 0x95: // FRAME: its contents are opcodes, scanned in line
			k = 8
		case 'I', 'L', 'F', 'g', 'p': // numbers: parsed in superlinear time
			if err := readLine(maxLineBytes); err != nil {
				return n, fmt.Errorf("pickle opcode %q at byte %d: %w", op, at, err)
			}
			continue
		case 'S', 'V', 'P':
			if err := readLine(0); err != nil {
				return n, fmt.Errorf("pickle opcode %q at byte %d: unterminated line: %w", op, at, err)
			}
			continue
		case 'c', 'i':
			for range 2 {
				if err := readLine(maxLineBytes); err != nil {
					return n, fmt.Errorf("pickle opcode %q at byte %d: %w", op, at, err)
				}
			}
			continue
		case 'U', 'C', 0x8c, 0x8a:
			lenBytes = 1
		case 'T', 'B', 'X', 0x8b:
			lenBytes = 4
		case 0x8d, 0x8e, 0x96:
			lenBytes = 8
		default:
			return n, fmt.Errorf("unknown pickle opcode 0x%02x at byte %d", op, at)
		}
		if k >= 0 {
			b, err := readN(k)
			if err != nil {
				return n, fmt.Errorf("pickle opcode 0x%02x at byte %d: %w", op, at, err)
			}
			if op == 0x95 && binary.LittleEndian.Uint64(b) > uint64(limit-n) {
				return n, fmt.Errorf("pickle frame at byte %d declares %d bytes, only %d remain", at, binary.LittleEndian.Uint64(b), limit-n)
			}
			continue
		}
		b, err := readN(int64(lenBytes))
		if err != nil {
			return n, fmt.Errorf("pickle opcode 0x%02x at byte %d: %w", op, at, err)
		}
		var size uint64
		switch lenBytes {
		case 1:
			size = uint64(b[0])
		case 4:
			size = uint64(binary.LittleEndian.Uint32(b))
			if (op == 'T' || op == 0x8b) && int32(size) < 0 {
				return n, fmt.Errorf("pickle opcode 0x%02x at byte %d: negative length", op, at)
			}
		case 8:
			size = binary.LittleEndian.Uint64(b)
		}
		if (op == 0x8a || op == 0x8b) && size > maxIntBytes {
			return n, fmt.Errorf("pickle integer of %d bytes at byte %d, more than the %d-byte budget; the file is not a plain state dict", size, at, maxIntBytes)
		}
		if size > uint64(limit-n) {
			return n, fmt.Errorf("pickle opcode 0x%02x at byte %d declares %d bytes, only %d remain", op, at, size, limit-n)
		}
		if _, err := readN(int64(size)); err != nil {
			return n, fmt.Errorf("pickle opcode 0x%02x at byte %d: %w", op, at, err)
		}
	}
}
