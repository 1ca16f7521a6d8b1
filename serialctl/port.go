package serialctl

import (
	"fmt"
	"io"

	"go.bug.st/serial"
)

// OpenSerial opens a serial device with go.bug.st/serial at baud, 8N1, raw,
// without flow control, and without touching the modem bits (DTR, RTS),
// which a pseudo-terminal or a USB gadget port does not have. Closing the
// returned port ends a Read blocked on it.
func OpenSerial(port string, baud int) (io.ReadWriteCloser, error) {
	p, err := serial.Open(port, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("serialctl: open %s: %w", port, err)
	}
	return p, nil
}
