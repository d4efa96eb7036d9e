package devserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// PortInUseError is returned by Start when a requested port is taken.
type PortInUseError struct {
	IP   string
	Port int
	// Purpose names what the port was for: "frontend gRPC", "frontend HTTP" or "Web UI".
	Purpose string
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d on %s is in use (another breachctl dev or temporal server?)", e.Port, e.IP)
}

// portRequest is one port Start needs: a fixed one the caller asked for, or
// 0 for any free one.
type portRequest struct {
	purpose string
	port    *int
}

// reservePorts checks that every fixed port is free and picks a free port for
// every zero one. It holds all listeners open until it has them all, so the
// ports are distinct, then closes them for the server to bind. Another
// process can still take a port in the short gap; the server then fails to
// start (the UI server would exit the process, which is why its port is
// checked here).
func reservePorts(ip string, reqs []portRequest) error {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for _, r := range reqs {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(*r.port)))
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return &PortInUseError{IP: ip, Port: *r.port, Purpose: r.purpose}
			}
			return fmt.Errorf("%s: listen on %s port %d: %w", r.purpose, ip, *r.port, err)
		}
		listeners = append(listeners, l)
		*r.port = l.Addr().(*net.TCPAddr).Port
	}
	return nil
}
