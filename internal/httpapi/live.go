package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/room"
)

type liveBody struct {
	ID          string     `json:"id"`
	Creator     string     `json:"creator" doc:"The creator's handle"`
	CreatorName string     `json:"creator_name"`
	CreatorID   string     `json:"creator_id"`
	Title       string     `json:"title"`
	Status      string     `json:"status" enum:"live,ended"`
	StartedAt   time.Time  `json:"started_at"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	Gifts       int64      `json:"gifts" doc:"Gifts received (a gift sent 5 times counts 5)"`
	Coins       int64      `json:"coins" doc:"Coins spent on gifts in this LIVE"`
	Diamonds    int64      `json:"diamonds" doc:"Diamonds the creator earned in this LIVE"`
	// SubscribersOnly is the chat mode.
	SubscribersOnly bool `json:"subscribers_only" doc:"Subscriber-only chat: only the creator, the operator and the creator's active subscribers may chat"`
}

func newLiveBody(l *live.Live) liveBody {
	b := liveBody{ID: l.ID, Creator: l.CreatorHandle, CreatorName: l.CreatorDisplayName, CreatorID: l.CreatorID,
		Title: l.Title, Status: l.Status, StartedAt: l.StartedAt, Gifts: l.Gifts, Coins: l.Coins, Diamonds: l.Diamonds,
		SubscribersOnly: l.SubscribersOnly}
	if !l.EndedAt.IsZero() {
		t := l.EndedAt
		b.EndedAt = &t
	}
	return b
}

type liveOutput struct{ Body liveBody }

type livesOutput struct {
	Body struct {
		Lives []liveBody `json:"lives"`
	}
}

type liveIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

type startLiveInput struct {
	Body struct {
		Title string `json:"title" minLength:"1" maxLength:"400" doc:"1 to 100 characters"`
	}
}

type giftsOutput struct {
	Body struct {
		Gifts []live.Gift `json:"gifts"`
	}
}

type sendGiftInput struct {
	ID             string `path:"id" maxLength:"64"`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Required. A replay with the same key and body returns the first answer and moves nothing."`
	Body           struct {
		GiftID string `json:"gift_id" minLength:"1" maxLength:"64"`
		Count  int64  `json:"count" minimum:"1" maximum:"9007199254740991" doc:"1 to 10,000"`
	}
}

type sendGiftOutput struct {
	Replayed string `header:"Idempotent-Replayed"`
	Body     struct {
		OpID      string         `json:"op_id"`
		LiveID    string         `json:"live_id"`
		GiftID    string         `json:"gift_id"`
		Count     int64          `json:"count"`
		Coins     fanfare.Amount `json:"coins" doc:"Coins spent"`
		FiatValue moneyBody      `json:"fiat_value" doc:"What the coins spent are worth at the reference rate of the fan's currency"`
		Diamonds  fanfare.Amount `json:"diamonds" doc:"Diamonds the creator received"`
		Balance   fanfare.Amount `json:"balance" doc:"The fan's coins right after"`
		CreatedAt time.Time      `json:"created_at"`
	}
}

type moneyBody struct {
	Currency string         `json:"currency"`
	Amount   fanfare.Amount `json:"amount" doc:"Minor units"`
}

type chatInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Text string `json:"text" maxLength:"2000" doc:"1 to 150 characters"`
	}
}

type chatModeInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		SubscribersOnly bool `json:"subscribers_only" doc:"true: only the creator, the operator and the creator's active subscribers may chat"`
	}
}

type muteInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		UserID string `json:"user_id,omitempty" maxLength:"64" doc:"The viewer to mute: their id or handle"`
		Handle string `json:"handle,omitempty" maxLength:"64" doc:"The viewer's handle, instead of user_id (as chat events name them)"`
	}
}

type summaryOutput struct {
	Body struct {
		Live            liveBody      `json:"live"`
		DurationSeconds int64         `json:"duration_seconds"`
		PeakViewers     int64         `json:"peak_viewers"`
		Gifters         int64         `json:"gifters"`
		Top             []room.Gifter `json:"top"`
	}
}

type weekInput struct {
	Week string `query:"week" maxLength:"10" doc:"A date of the week, YYYY-MM-DD (default: today)"`
}

type creatorWeekInput struct {
	ID   string `path:"id" maxLength:"64"`
	Week string `query:"week" maxLength:"10" doc:"A date of the week, YYYY-MM-DD (default: today)"`
}

type weeklyOutput struct {
	Body struct {
		WeekStart time.Time          `json:"week_start"`
		WeekEnd   time.Time          `json:"week_end"`
		Creators  []live.CreatorRank `json:"creators"`
	}
}

type gifterWeekOutput struct {
	Body struct {
		Creator   string        `json:"creator"`
		WeekStart time.Time     `json:"week_start"`
		WeekEnd   time.Time     `json:"week_end"`
		Top       []room.Gifter `json:"top"`
	}
}

// week reads a week parameter: any date of it, default today (by the
// server's clock).
func (s *Server) week(date string) (live.Week, error) {
	if date == "" {
		return live.WeekOf(s.clock.Now()), nil
	}
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return live.Week{}, fanfare.Errorf(fanfare.EInvalid, "week must be a date, YYYY-MM-DD")
	}
	return live.WeekOf(t), nil
}

type leaderboardOutput struct {
	Body struct {
		Top []room.Gifter `json:"top"`
	}
}

func (s *Server) registerLive() {
	register(s, public, huma.Operation{
		OperationID: "listGifts",
		Method:      http.MethodGet,
		Path:        "/v1/gifts",
		Summary:     "The gift catalog",
		Tags:        []string{"live"},
	}, func(ctx context.Context, _ *struct{}) (*giftsOutput, error) {
		out := &giftsOutput{}
		out.Body.Gifts = s.live.Gifts()
		return out, nil
	})

	register(s, public, huma.Operation{
		OperationID: "listLives",
		Method:      http.MethodGet,
		Path:        "/v1/lives",
		Summary:     "Who is LIVE now",
		Tags:        []string{"live"},
	}, func(ctx context.Context, _ *struct{}) (*livesOutput, error) {
		lives, err := s.live.Now(ctx)
		if err != nil {
			return nil, err
		}
		out := &livesOutput{}
		out.Body.Lives = []liveBody{}
		for _, l := range lives {
			out.Body.Lives = append(out.Body.Lives, newLiveBody(l))
		}
		return out, nil
	})

	register(s, user, huma.Operation{
		OperationID:   "startLive",
		Method:        http.MethodPost,
		Path:          "/v1/lives",
		Summary:       "Go LIVE",
		Description:   "Starts a LIVE of the logged-in creator: 18 or older, not restricted or banned; one LIVE at a time (409 conflict).",
		Tags:          []string{"live"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusConflict},
	}, func(ctx context.Context, in *startLiveInput) (*liveOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		l, err := s.live.Start(ctx, a, in.Body.Title)
		if err != nil {
			return nil, err
		}
		return &liveOutput{Body: newLiveBody(l)}, nil
	})

	register(s, public, huma.Operation{
		OperationID: "getLive",
		Method:      http.MethodGet,
		Path:        "/v1/lives/{id}",
		Summary:     "A LIVE",
		Tags:        []string{"live"},
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *liveIDInput) (*liveOutput, error) {
		l, err := s.live.Get(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return &liveOutput{Body: newLiveBody(l)}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "endLive",
		Method:      http.MethodPost,
		Path:        "/v1/lives/{id}/end",
		Summary:     "End a LIVE",
		Description: "Only its creator ends a LIVE; its room feed closes with a live_ended event.",
		Tags:        []string{"live"},
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *liveIDInput) (*liveOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		l, err := s.live.End(ctx, a, in.ID)
		if err != nil {
			return nil, err
		}
		return &liveOutput{Body: newLiveBody(l)}, nil
	})

	register(s, user, huma.Operation{
		OperationID:   "sendGift",
		Method:        http.MethodPost,
		Path:          "/v1/lives/{id}/gifts",
		Summary:       "Send a gift in a LIVE",
		Description:   "Spends gift price × count coins; the creator receives diamonds at the gifts share; every viewer of the room sees it.",
		Tags:          []string{"live"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *sendGiftInput) (*sendGiftOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		sent, err := s.live.SendGift(ctx, a, in.ID, in.Body.GiftID, in.Body.Count, in.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		out := &sendGiftOutput{}
		if sent.Payment.Replayed {
			out.Replayed = "true"
		}
		b := &out.Body
		b.OpID, b.LiveID, b.GiftID, b.Count = sent.Payment.OpID, sent.LiveID, sent.Gift.ID, sent.Count
		b.Coins, b.Diamonds, b.Balance, b.CreatedAt = sent.Payment.Coins, sent.Payment.Diamonds, sent.Payment.Balance, sent.Payment.CreatedAt
		fan := sent.Payment.Fan
		if fan == nil { // a replay
			if fan, err = s.accounts.ByID(ctx, a.UserID); err != nil {
				return nil, err
			}
		}
		if b.FiatValue, err = s.fiatValue(fan, sent.Payment.Coins); err != nil {
			return nil, err
		}
		return out, nil
	})

	register(s, public, huma.Operation{
		OperationID: "liveLeaderboard",
		Method:      http.MethodGet,
		Path:        "/v1/lives/{id}/leaderboard",
		Summary:     "A LIVE's top gifters",
		Tags:        []string{"live"},
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *liveIDInput) (*leaderboardOutput, error) {
		if _, err := s.live.Get(ctx, in.ID); err != nil {
			return nil, err
		}
		top, err := s.live.Top(ctx, in.ID, 10)
		if err != nil {
			return nil, err
		}
		out := &leaderboardOutput{}
		out.Body.Top = top
		return out, nil
	})

	register(s, user, huma.Operation{
		OperationID: "chat",
		Method:      http.MethodPost,
		Path:        "/v1/lives/{id}/chat",
		Summary:     "Post a chat message in a LIVE",
		Description: "At most 150 characters; 5 messages at once, then one a second (429 rate_limited); a viewer the creator muted is refused (403 forbidden). " +
			"In subscriber-only mode, anyone but the creator, the operator and the creator's active subscribers is refused (403 subscribers_only). " +
			"A subscriber's message carries their tenure badge, and each `:name:` naming one of the creator's exclusive emotes is an emote; " +
			"anyone else's `:name:` stays plain text. The message is stored before the room shows it (the room feed's first frame holds the last ones, on any server); " +
			"a server that is stopping refuses it (503 unavailable).",
		Tags:          []string{"live"},
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusTooManyRequests},
	}, func(ctx context.Context, in *chatInput) (*struct{}, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		return nil, s.live.Chat(ctx, a, in.ID, in.Body.Text)
	})

	register(s, user, huma.Operation{
		OperationID: "setChatMode",
		Method:      http.MethodPut,
		Path:        "/v1/lives/{id}/chat-mode",
		Summary:     "Switch subscriber-only chat in your LIVE",
		Description: "Only the LIVE's creator, while it is on air (409 invalid_state once it ended). The mode is kept with the LIVE; " +
			"the room feed announces it (a `chat_mode` event) and its state frame carries it.",
		Tags:   []string{"live"},
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *chatModeInput) (*liveOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		l, err := s.live.SetChatMode(ctx, a, in.ID, in.Body.SubscribersOnly)
		if err != nil {
			return nil, err
		}
		return &liveOutput{Body: newLiveBody(l)}, nil
	})

	register(s, user, huma.Operation{
		OperationID:   "muteViewer",
		Method:        http.MethodPost,
		Path:          "/v1/lives/{id}/mutes",
		Summary:       "Mute a viewer in your LIVE",
		Description:   "The viewer, named by `user_id` or `handle`, can no longer chat in this LIVE.",
		Tags:          []string{"live"},
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound},
	}, func(ctx context.Context, in *muteInput) (*struct{}, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		id := in.Body.UserID
		switch {
		case id != "" && in.Body.Handle != "":
			return nil, fanfare.Errorf(fanfare.EInvalid, "give user_id or handle, not both")
		case id == "" && in.Body.Handle == "":
			return nil, fanfare.Errorf(fanfare.EInvalid, "give the viewer's user_id or handle")
		case id == "":
			id = in.Body.Handle
		}
		u, err := s.accounts.Resolve(ctx, id)
		if err != nil {
			return nil, err
		}
		return nil, s.live.Mute(ctx, a, in.ID, u.ID)
	})

	register(s, public, huma.Operation{
		OperationID: "liveSummary",
		Method:      http.MethodGet,
		Path:        "/v1/lives/{id}/summary",
		Summary:     "A LIVE's summary",
		Description: "Duration (to now while on air), peak viewers, gifts, coins, diamonds, gifters and top gifters.",
		Tags:        []string{"live"},
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *liveIDInput) (*summaryOutput, error) {
		sum, err := s.live.Summary(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		out := &summaryOutput{}
		b := &out.Body
		b.Live, b.DurationSeconds, b.PeakViewers, b.Gifters, b.Top = newLiveBody(sum.Live), int64(sum.Duration/time.Second), sum.PeakViewers, sum.Gifters, sum.Top
		return out, nil
	})

	register(s, public, huma.Operation{
		OperationID: "weeklyLeaderboard",
		Method:      http.MethodGet,
		Path:        "/v1/leaderboards/weekly",
		Summary:     "The week's creators by diamonds earned from gifts",
		Description: "UTC weeks from Monday 00:00; a LIVE counts in the week it started. `week` is any date of the week (default: this week).",
		Tags:        []string{"live"},
	}, func(ctx context.Context, in *weekInput) (*weeklyOutput, error) {
		w, err := s.week(in.Week)
		if err != nil {
			return nil, err
		}
		top, err := s.live.WeeklyCreators(ctx, w, 10)
		if err != nil {
			return nil, err
		}
		out := &weeklyOutput{}
		out.Body.WeekStart, out.Body.WeekEnd, out.Body.Creators = w.Start, w.End, top
		return out, nil
	})

	register(s, public, huma.Operation{
		OperationID: "creatorWeeklyGifters",
		Method:      http.MethodGet,
		Path:        "/v1/creators/{id}/top-gifters",
		Summary:     "A creator's top gifters of the week",
		Description: "`id` is the creator's id or handle. UTC weeks from Monday 00:00; a LIVE counts in the week it started.",
		Tags:        []string{"live"},
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *creatorWeekInput) (*gifterWeekOutput, error) {
		w, err := s.week(in.Week)
		if err != nil {
			return nil, err
		}
		u, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		top, err := s.live.WeeklyGifters(ctx, u.ID, w, 10)
		if err != nil {
			return nil, err
		}
		out := &gifterWeekOutput{}
		out.Body.Creator, out.Body.WeekStart, out.Body.WeekEnd, out.Body.Top = u.Handle, w.Start, w.End, top
		return out, nil
	})

	s.mux.HandleFunc("GET /v1/lives/{id}/events", s.liveEvents)
}

// Room feed limits.
const (
	// maxClientFrame is the largest frame a viewer may send.
	maxClientFrame = 4096
	// frameWriteTimeout is how long one frame may take to reach a viewer
	// before it is disconnected as too slow.
	frameWriteTimeout = 5 * time.Second
)

// liveEvents upgrades to the room feed's WebSocket. Anyone may watch;
// credentials, when sent, identify the viewer.
func (s *Server) liveEvents(w http.ResponseWriter, r *http.Request) {
	// Counted from the start, while the HTTP server still tracks the
	// connection: once it has shut down, no feed is left to count.
	s.feeds.Add(1)
	defer s.feeds.Done()
	ctx := r.Context()
	id := r.PathValue("id")
	if err := fanfare.CheckText(id, fanfare.OneLine); err != nil {
		writeProblem(w, humaError(ctx, http.StatusBadRequest, "validation failed", &huma.ErrorDetail{Location: "path.id", Message: err.Error()}))
		return
	}
	l, err := s.live.Get(ctx, id)
	if err != nil {
		writeProblem(w, problemFor(ctx, err))
		return
	}
	if p := upgradeProblem(w, r); p != nil {
		writeProblem(w, p)
		return
	}
	var actor fanfare.Actor
	if r.Header.Get("Authorization") != "" || hasCookie(r, SessionCookie) {
		if actor, err = s.requestActor(r); err != nil {
			writeProblem(w, problemFor(ctx, err))
			return
		}
	}

	// The server's read and write timeouts are for requests, not for a
	// feed that lasts the whole LIVE.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(feedHijacker{w}, r, nil)
	if err != nil {
		return // Accept answered the client
	}
	conn.SetReadLimit(maxClientFrame)

	// The viewer joins as who they are: the room knows its logged-in
	// viewers (live.Service.Watching).
	v, err := s.hub.JoinAs(ctx, l.ID, actor.UserID)
	if err != nil {
		conn.Close(websocket.StatusTryAgainLater, "the server is shutting down")
		return
	}
	// The connection is the library's now: the feed runs on goroutines of
	// its own and this handler returns, so that what serving the request
	// needed (the request, its headers, this goroutine's grown stack) is
	// not kept for the hours a viewer may watch. It keeps the request's
	// id and log fields, not its cancellation: the feed ends when the
	// socket or the room does.
	s.feeds.Add(1)
	go s.feed(detached(ctx), conn, v, actor, l.ID)
}

// feed writes the room's frames to one viewer's socket and reads what the
// viewer sends, until either side ends.
func (s *Server) feed(ctx context.Context, conn *websocket.Conn, v *room.Viewer, actor fanfare.Actor, liveID string) {
	defer s.feeds.Done()
	defer conn.CloseNow()
	defer v.Leave()
	s.metrics.viewers.Inc()
	defer s.metrics.viewers.Dec()

	// The reader: every frame a viewer sends must be a JSON object with a
	// type; a bad one closes this socket with a policy code, and the room
	// goes on. {"type":"chat","text":...} posts a chat message; its
	// refusal comes back on this socket only, as an error event.
	readErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			var msg struct {
				Type string `json:"type"`
				Text string `json:"text"`
			}
			// A frame is held to the bodies' rules: valid UTF-8, no
			// member named twice.
			if err := json.Unmarshal(data, &msg); err != nil || msg.Type == "" || scanJSON(data) != nil {
				readErr <- errPolicy
				return
			}
			if msg.Type != "chat" {
				continue // unknown types are ignored, for newer clients
			}
			err = fanfare.Errorf(fanfare.EUnauthorized, "log in to chat")
			if terr := fanfare.CheckText(msg.Text, fanfare.OneLine); terr != nil {
				err = fanfare.Errorf(fanfare.EInvalid, "text %s", terr)
			} else if actor.UserID != "" {
				err = s.live.Chat(ctx, actor, liveID, msg.Text)
			}
			if err != nil {
				p := problemFor(ctx, err)
				b, _ := json.Marshal(map[string]any{"type": "error", "code": p.Code, "detail": p.Detail})
				wctx, cancel := context.WithTimeout(ctx, frameWriteTimeout)
				werr := conn.Write(wctx, websocket.MessageText, b)
				cancel()
				if werr != nil {
					readErr <- werr
					return
				}
			}
		}
	}()

	// Frames are written without a deadline context: a fresh context per
	// frame costs a timer and a callback registration in the library on
	// every write, which a big room pays tens of thousands of times a
	// second. One watchdog per viewer closes a socket whose write takes
	// longer than frameWriteTimeout instead.
	wctx := context.WithoutCancel(ctx)
	watchdog := time.AfterFunc(time.Hour, func() { conn.CloseNow() })
	watchdog.Stop()
	defer watchdog.Stop()
	write := func(frame []byte) error {
		watchdog.Reset(frameWriteTimeout)
		err := conn.Write(wctx, websocket.MessageText, frame)
		watchdog.Stop()
		return err
	}
	for {
		select {
		case frame := <-v.Frames():
			if err := write(frame); err != nil {
				return
			}
		case <-v.Done():
			// Send what is queued (the live_ended frame), then say why.
		drain:
			for {
				select {
				case frame := <-v.Frames():
					if err := write(frame); err != nil {
						return
					}
				default:
					break drain
				}
			}
			switch v.Reason() {
			case "ended":
				conn.Close(websocket.StatusNormalClosure, "the LIVE has ended")
			case "restart":
				conn.Close(websocket.StatusServiceRestart, "the server is restarting: reconnect")
			case "slow":
				conn.Close(websocket.StatusPolicyViolation, "too slow to keep up with the room")
			default:
				conn.Close(websocket.StatusGoingAway, "the server is shutting down")
			}
			return
		case err := <-readErr:
			switch {
			case errors.Is(err, errPolicy):
				conn.Close(websocket.StatusPolicyViolation, "frames must be JSON objects with a type, in UTF-8, each member once")
			case websocket.CloseStatus(err) == websocket.StatusMessageTooBig:
				// The library closed it with 1009 already.
			}
			return
		}
	}
}

var errPolicy = errors.New("policy violation")

// The buffers of a room feed's connection, kept for as long as the viewer
// watches. A viewer sends a few small frames (chat), so the HTTP server's
// 4 KiB read buffer is mostly idle memory; frames longer than the buffer
// are read all the same. The room's frames are written through
// feedWriteBuffer: a frame that fits goes out in one write system call,
// a longer one in two (as one longer than the HTTP server's 4 KiB did). A
// quiet room's frames fit in 2 KiB, and a busy room's pass 4 KiB; 1 KiB
// would split a moderately busy room's frames in two writes (measured:
// about 10 % more server CPU per frame at 5,000 viewers and 50 gifts/s).
const (
	feedReadBuffer  = 512
	feedWriteBuffer = 2048
)

// feedHijacker hands the WebSocket library the hijacked connection with
// the feed's buffers, the read buffer holding whatever the HTTP server had
// read past the upgrade request.
type feedHijacker struct{ http.ResponseWriter }

func (h feedHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// What the server read past the request stays buffered in the new
	// reader (the library takes it from there), which is as big as it
	// needs to be for that.
	n := brw.Reader.Buffered()
	b, _ := brw.Reader.Peek(n)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(b)), c), max(feedReadBuffer, n))
	if _, err := br.Peek(n); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, bufio.NewReadWriter(br, bufio.NewWriterSize(c, feedWriteBuffer)), nil
}

// WaitFeeds waits until every room feed has ended, or ctx
// ends. The feeds' connections are hijacked, so an HTTP server's Shutdown
// does not wait for them: call WaitFeeds after it, once the hub has closed
// (or drained), so that every viewer has been told why before the process
// exits.
func (s *Server) WaitFeeds(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.feeds.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the room feeds to close: %w", ctx.Err())
	}
}

func hasCookie(r *http.Request, name string) bool {
	c, err := r.Cookie(name)
	return err == nil && c.Value != ""
}
