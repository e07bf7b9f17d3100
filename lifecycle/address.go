package lifecycle

import (
	"fmt"
	"strconv"
	"strings"
)

// addressKind says which transport a notify address needs.
type addressKind uint8

const (
	kindUnix  addressKind = iota + 1 // AF_UNIX datagram, path or abstract.
	kindVsock                        // AF_VSOCK.
)

// socketType is the socket type a vsock address asks for.
type socketType uint8

const (
	typeDefault   socketType = iota // "vsock:": datagram, falling back to seqpacket.
	typeDgram                       // "vsock-dgram:"
	typeSeqpacket                   // "vsock-seqpacket:"
	typeStream                      // "vsock-stream:"
)

// Special vsock context IDs, as in <linux/vm_sockets.h>.
const (
	vsockCIDHypervisor = 0
	vsockCIDLocal      = 1
	vsockCIDHost       = 2
)

// maxUnixPath is the size of sun_path on Linux, including the terminating
// NUL for path names.
const maxUnixPath = 108

// address is a parsed $NOTIFY_SOCKET.
type address struct {
	kind addressKind
	path string // kindUnix: file system path, or "@name" for abstract.
	cid  uint32 // kindVsock
	port uint32 // kindVsock
	typ  socketType
}

// parseAddress parses a $NOTIFY_SOCKET value. The empty string is not an
// address: callers check for it first.
func parseAddress(s string) (address, error) {
	switch {
	case strings.HasPrefix(s, "/"):
		if len(s) >= maxUnixPath {
			return address{}, fmt.Errorf("lifecycle: NOTIFY_SOCKET path longer than %d bytes", maxUnixPath-1)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return address{}, fmt.Errorf("lifecycle: NOTIFY_SOCKET contains a NUL byte")
		}
		return address{kind: kindUnix, path: s}, nil
	case strings.HasPrefix(s, "@"):
		if len(s) < 2 {
			return address{}, fmt.Errorf("lifecycle: NOTIFY_SOCKET %q: empty abstract socket name", s)
		}
		if len(s) > maxUnixPath {
			return address{}, fmt.Errorf("lifecycle: NOTIFY_SOCKET abstract name longer than %d bytes", maxUnixPath-1)
		}
		return address{kind: kindUnix, path: s}, nil
	case strings.HasPrefix(s, "vsock"):
		return parseVsock(s)
	default:
		return address{}, fmt.Errorf("lifecycle: NOTIFY_SOCKET %q: want an absolute path, @abstract or vsock:CID:PORT", s)
	}
}

func parseVsock(s string) (address, error) {
	prefixes := [...]struct {
		prefix string
		typ    socketType
	}{
		{"vsock:", typeDefault},
		{"vsock-dgram:", typeDgram},
		{"vsock-seqpacket:", typeSeqpacket},
		{"vsock-stream:", typeStream},
	}
	for _, p := range prefixes {
		rest, ok := strings.CutPrefix(s, p.prefix)
		if !ok {
			continue
		}
		cidText, portText, ok := strings.Cut(rest, ":")
		if !ok || cidText == "" || portText == "" {
			return address{}, fmt.Errorf("lifecycle: NOTIFY_SOCKET %q: want %sCID:PORT", s, p.prefix)
		}
		cid, err := parseCID(cidText)
		if err != nil {
			return address{}, fmt.Errorf("lifecycle: NOTIFY_SOCKET %q: bad CID: %w", s, err)
		}
		port, err := strconv.ParseUint(portText, 10, 32)
		if err != nil {
			return address{}, fmt.Errorf("lifecycle: NOTIFY_SOCKET %q: bad port: %w", s, err)
		}
		return address{kind: kindVsock, cid: cid, port: uint32(port), typ: p.typ}, nil
	}
	return address{}, fmt.Errorf("lifecycle: NOTIFY_SOCKET %q: unknown vsock form", s)
}

func parseCID(s string) (uint32, error) {
	switch s {
	case "hypervisor":
		return vsockCIDHypervisor, nil
	case "local":
		return vsockCIDLocal, nil
	case "host":
		return vsockCIDHost, nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	return uint32(v), nil
}

// String returns the address in $NOTIFY_SOCKET notation.
func (a address) String() string {
	if a.kind == kindUnix {
		return a.path
	}
	prefix := [...]string{typeDefault: "vsock:", typeDgram: "vsock-dgram:", typeSeqpacket: "vsock-seqpacket:", typeStream: "vsock-stream:"}[a.typ]
	return prefix + strconv.FormatUint(uint64(a.cid), 10) + ":" + strconv.FormatUint(uint64(a.port), 10)
}
