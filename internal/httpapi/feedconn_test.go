package httpapi_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestRoomFeedReadsWhatCameWithTheUpgrade sends the upgrade request and a
// first frame in one write, as a client may: the frame reaches the feed
// though the HTTP server read it with the request (the feed's connection
// gets a read buffer of its own), and a frame longer than that buffer is
// read whole.
func TestRoomFeedReadsWhatCameWithTheUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	_, ayla := e.signUp(t, "ayla")
	var l liveReply
	e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}}).json(t, &l)

	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	// An anonymous viewer's chat, padded past 2 KiB with a member the
	// server ignores: the answer is an error event on this socket.
	msg := fmt.Sprintf(`{"type":"chat","text":"me too","pad":%q}`, strings.Repeat("x", 2100))
	upgrade := "GET /v1/lives/" + l.ID + "/events HTTP/1.1\r\nHost: fanfare.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	_, err = conn.Write(append([]byte(upgrade), clientFrame([]byte(msg))...))
	require.NoError(t, err)

	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	for {
		payload := serverFrame(t, br)
		var frame struct {
			Type string `json:"type"`
			Code string `json:"code"`
		}
		require.NoError(t, json.Unmarshal(payload, &frame), "%s", payload)
		if frame.Type == "error" {
			require.Equal(t, "unauthorized", frame.Code)
			return
		}
	}
}

// clientFrame returns payload as one masked text frame, as a client sends it.
func clientFrame(payload []byte) []byte {
	b := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

// serverFrame reads one unmasked, unfragmented data frame and returns its
// payload.
func serverFrame(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var h [2]byte
	_, err := io.ReadFull(r, h[:])
	require.NoError(t, err)
	require.Equal(t, byte(0x81), h[0], "a final text frame")
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		_, err = io.ReadFull(r, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, err = io.ReadFull(r, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	require.NoError(t, err)
	payload := make([]byte, n)
	_, err = io.ReadFull(r, payload)
	require.NoError(t, err)
	return payload
}
