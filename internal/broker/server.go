package broker

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server in this process, on loopback, for the tests and
// `fanfare bench live --nodes`: a real nats-server, not a fake. Production
// runs NATS apart (docs/deploy.md).
type Server struct {
	ns   *natsserver.Server
	port int
}

// StartServer starts a NATS server on 127.0.0.1:port (0: a free port).
func StartServer(port int) (*Server, error) {
	if port == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true,
		MaxPayload: 1 << 20})
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("nats server: not ready within 10 s")
	}
	return &Server{ns: ns, port: port}, nil
}

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Port is the port it listens on: StartServer(s.Port()) starts it again
// there once stopped.
func (s *Server) Port() int { return s.port }

// Stop shuts the server down and waits until it has.
func (s *Server) Stop() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}
