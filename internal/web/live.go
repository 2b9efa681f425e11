package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/subscription"
)

// topGifters is how many gifters the LIVE pages list.
const topGifters = 10

// giftCounts are the choices of the gift panel's count picker.
var giftCounts = []int64{1, 5, 10, 50, 100}

// liveCard is a LIVE as the pages show it.
type liveCard struct {
	*live.Live
	Initials string
	For      string // how long it has been on air: "12 min"
}

func (s *Server) liveCard(l *live.Live) liveCard {
	return liveCard{Live: l, Initials: initials(l.CreatorDisplayName, l.CreatorHandle), For: durationName(s.clock.Now().Sub(l.StartedAt))}
}

// liveNowPage lists the LIVEs on air.
type liveNowPage struct {
	Layout
	Lives []liveCard
	// Mine is the visitor's own LIVE when they are on air.
	Mine *live.Live
}

func (s *Server) liveNow(w http.ResponseWriter, r *http.Request) {
	v, err := s.visitor(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	lives, err := s.live.Now(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d := &liveNowPage{Layout: Layout{Title: "LIVE now", Nav: "live", Visitor: v, CSRF: s.formToken(w, r, v)}}
	for _, l := range lives {
		d.Lives = append(d.Lives, s.liveCard(l))
		if v != nil && l.CreatorID == v.User.ID {
			d.Mine = l
		}
	}
	s.render(w, r, http.StatusOK, "live_now", d)
}

// giftView is a gift of the catalog with its value in the visitor's
// currency.
type giftView struct {
	live.Gift
	Fiat fanfare.Amount
}

// feedView is what the room and the studio share: the LIVE, its feed's
// address and the top gifters so far.
type feedView struct {
	Live      liveCard
	Top       []room.Gifter
	EventsURL string
	RoomURL   string
	LoginURL  string // back to the room after logging in
	// Catalog is the gift catalog as JSON (id → name, tier, coins): the
	// feed's gift events name their gift by id.
	Catalog string
	// ChatMember: the visitor may chat in subscriber-only mode (the
	// creator, the operator, an active subscriber), whatever the mode is
	// now; the script locks the chat when the mode turns on.
	ChatMember bool
}

func (s *Server) feedView(r *http.Request, l *live.Live) (feedView, error) {
	top, err := s.live.Top(r.Context(), l.ID, topGifters)
	if err != nil {
		return feedView{}, err
	}
	roomURL := "/live/" + url.PathEscape(l.ID)
	return feedView{
		Live:      s.liveCard(l),
		Top:       top,
		EventsURL: "/v1/lives/" + url.PathEscape(l.ID) + "/events",
		RoomURL:   roomURL,
		LoginURL:  "/login?next=" + url.QueryEscape(roomURL),
		Catalog:   s.giftCatalog(),
	}, nil
}

// giftCatalog returns the gift catalog as the pages' script reads it.
func (s *Server) giftCatalog() string {
	type entry struct {
		Name  string `json:"name"`
		Tier  int    `json:"tier"`
		Coins int64  `json:"coins"`
	}
	m := map[string]entry{}
	for _, g := range s.live.Gifts() {
		m[g.ID] = entry{g.Name, g.Tier, g.Coins}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// roomPage is a LIVE's room as a viewer sees it.
type roomPage struct {
	Layout
	feedView
	Gifts  []giftView
	Counts []int64
	// Coins is the visitor's balance; CannotSpend why they may not send
	// gifts, when they may not (under 18, a frozen wallet).
	Coins       fanfare.Amount
	CannotSpend string
	// Own: the visitor is the LIVE's creator.
	Own bool
	// GiftSubs is the Gift subscriptions dialog, for a logged-in viewer
	// other than the creator while the LIVE is on air and its creator
	// offers LIVE Subscription; nil otherwise.
	GiftSubs *giftSubsOffer
}

// giftSubsCounts are the Gift subscriptions dialog's quick choices; any
// other count from 1 to subscription.MaxGift can be typed.
var giftSubsCounts = []int{1, 5, 10}

// giftSubsOffer is the Gift subscriptions dialog of a LIVE's room: the
// creator's tiers with their prices in the visitor's currency, and what
// the script needs to show a total for any count.
type giftSubsOffer struct {
	// URL is the API route the script posts to.
	URL     string
	Creator string // the creator's handle
	Tiers   []tierCard
	Counts  []int
	Max     int
	// Total and TotalFiat are the first tier's price, one subscription:
	// what the dialog shows before the script changes it. From is the
	// lowest tier's price.
	Total     fanfare.Amount
	TotalFiat fanfare.Amount
	From      fanfare.Amount
	Currency  string
	// Rate is the value of 100 coins in minor units of Currency and
	// Prefix what goes before an amount of it: the script computes the
	// fiat value of a total as the server does (wallet.Catalog.FiatValue).
	Rate   fanfare.Amount
	Prefix string
	// Coins is the visitor's balance; CannotSpend why they may not gift
	// subscriptions (under 18, a frozen wallet, the rules of LIVE
	// Subscription), when they may not.
	Coins       fanfare.Amount
	CannotSpend string
}

func (s *Server) livePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := s.visitor(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	l, err := s.live.Get(ctx, r.PathValue("id"))
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		s.errorPage(w, r, http.StatusNotFound, "LIVE not found", "There is no LIVE at this address. See who is LIVE now on the LIVE page.")
		return
	} else if err != nil {
		s.internalError(w, r, err)
		return
	}
	fv, err := s.feedView(r, l)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	cat := s.wallet.Catalog()
	d := &roomPage{
		Layout:   Layout{Title: l.Title + " · " + l.CreatorDisplayName, Nav: "live", Visitor: v, CSRF: s.formToken(w, r, v), Currency: cat.CurrencyFor("")},
		feedView: fv,
		Counts:   giftCounts,
	}
	if v != nil {
		o, err := s.wallet.Overview(ctx, v.User.ID, "")
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		v.Wallet = &o.Wallet
		d.Currency, d.Coins, d.CannotSpend = o.Currency, o.Coins, o.CannotSpend
		d.Own = l.CreatorID == v.User.ID
		if d.ChatMember, err = s.chatMember(ctx, v, l); err != nil {
			s.internalError(w, r, err)
			return
		}
		walletRefusal := d.CannotSpend
		if d.CannotSpend == "" && !d.Own && l.Status == live.StatusLive {
			if d.CannotSpend, err = s.refusal(ctx, eligibility.Gifts, v.User, l.CreatorID); err != nil {
				s.internalError(w, r, err)
				return
			}
		}
		if !d.Own && l.Status == live.StatusLive {
			if d.GiftSubs, err = s.giftSubsOffer(ctx, v, l, d.Currency, d.Coins, walletRefusal); err != nil {
				s.internalError(w, r, err)
				return
			}
		}
	}
	for _, g := range s.live.Gifts() {
		fiat, err := cat.FiatValue(d.Currency, fanfare.Amount(g.Coins))
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		d.Gifts = append(d.Gifts, giftView{Gift: g, Fiat: fiat})
	}
	s.render(w, r, http.StatusOK, "live_room", d)
}

// chatMember reports whether v may chat in l in subscriber-only mode.
func (s *Server) chatMember(ctx context.Context, v *visitor, l *live.Live) (bool, error) {
	members := *l
	members.SubscribersOnly = true
	return s.live.MayChat(ctx, v.actor(), &members)
}

// giftSubsOffer builds the Gift subscriptions dialog of l's room for v,
// whose balance is coins and whose wallet's refusal (under 18, frozen) is
// cannotSpend; nil when l's creator offers no subscription (no plan, the
// plan off, or the creator not meeting the rules of LIVE Subscription).
func (s *Server) giftSubsOffer(ctx context.Context, v *visitor, l *live.Live, currency string, coins fanfare.Amount, cannotSpend string) (*giftSubsOffer, error) {
	if s.subs == nil || !eligibility.Released(eligibility.Subscriptions) {
		return nil, nil
	}
	p, err := s.subs.Plan(ctx, l.CreatorID)
	if err != nil {
		return nil, err
	}
	if !p.Enabled || !p.Eligible || len(p.Tiers) == 0 {
		return nil, nil
	}
	cat := s.wallet.Catalog()
	list, err := cat.List(currency)
	if err != nil {
		return nil, err
	}
	o := &giftSubsOffer{URL: "/v1/lives/" + url.PathEscape(l.ID) + "/gifted-subscriptions", Creator: l.CreatorHandle,
		Counts: giftSubsCounts, Max: subscription.MaxGift, Currency: currency, Rate: list.ReferenceRate, Prefix: moneyPrefix(currency),
		Coins: coins, CannotSpend: cannotSpend}
	for i, t := range p.Tiers {
		fiat, err := cat.FiatValue(currency, t.Price)
		if err != nil {
			return nil, err
		}
		o.Tiers = append(o.Tiers, tierCard{Tier: t, Fiat: fiat, Checked: i == 0})
	}
	o.Total, o.TotalFiat, o.From = o.Tiers[0].Price, o.Tiers[0].Fiat, o.Tiers[0].Price
	for _, t := range o.Tiers {
		o.From = min(o.From, t.Price)
	}
	if o.CannotSpend == "" {
		if o.CannotSpend, err = s.refusal(ctx, eligibility.Subscriptions, v.User, l.CreatorID); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// refusal says why fan may not spend on creatorID under the rules of
// feature (their region, their standing, the creator's), as the refusal
// of a payment would; "" when the rules allow. The creator's private
// reasons read as the public one.
func (s *Server) refusal(ctx context.Context, feature string, fan *fanfare.User, creatorID string) (string, error) {
	creator, err := s.accounts.ByID(ctx, creatorID)
	if err != nil {
		return "", err
	}
	d, err := s.rules.Between(ctx, feature, fan, creator)
	if err != nil || d.Allowed {
		return "", err
	}
	msgs := make([]string, 0, len(d.Reasons))
	for _, r := range d.Public(creator.Handle).Reasons {
		msgs = append(msgs, r.Message)
	}
	return strings.Join(msgs, " "), nil
}

// studioPage is a creator's studio: the go-LIVE form, or the running LIVE
// with its feed, the gifters to thank and the end button.
type studioPage struct {
	Layout
	feedView
	On        bool   // the visitor is LIVE
	TitleText string // what the title field holds
	MaxTitle  int
	// Content: the studio links the emote editor and the posts.
	Content bool
}

func (s *Server) studioPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.studioData(r, v, "")
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	switch {
	case !d.On:
	case r.URL.Query().Has("started"):
		d.Notice = "You are LIVE! Your fans see you on the LIVE page; gifts and messages show up here as they come."
	case r.URL.Query().Get("chat") == "subscribers":
		d.Notice = "Subscribers-only chat is on: only you and your subscribers can chat."
	case r.URL.Query().Get("chat") == "everyone":
		d.Notice = "Subscribers-only chat is off: everyone logged in can chat."
	}
	s.render(w, r, http.StatusOK, "studio", d)
}

func (s *Server) studioData(r *http.Request, v *visitor, title string) (*studioPage, error) {
	d := &studioPage{Layout: Layout{Title: "Studio", Nav: "studio", Visitor: v, CSRF: s.sessionToken(v)}, TitleText: title, MaxTitle: live.MaxTitle,
		Content: s.content != nil}
	l, err := s.live.Current(r.Context(), v.User.ID)
	if err != nil || l == nil {
		return d, err
	}
	if d.feedView, err = s.feedView(r, l); err != nil {
		return nil, err
	}
	d.On = true
	d.ChatMember = true
	d.Title = "Studio · LIVE"
	return d, nil
}

// setChatMode switches subscriber-only chat in the visitor's LIVE (the
// studio's form, without the script: the script calls the API).
func (s *Server) setChatMode(w http.ResponseWriter, r *http.Request, v *visitor) {
	id := r.PostForm.Get("live_id")
	if err := formText(r.PostForm); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Unreadable form", sentence(fanfare.ErrorMessage(err))+" Nothing was changed.")
		return
	}
	on := r.PostForm.Get("subscribers_only") == "true"
	_, err := s.live.SetChatMode(r.Context(), v.actor(), id, on)
	switch fanfare.ErrorCode(err) {
	case "":
		chat := "everyone"
		if on {
			chat = "subscribers"
		}
		http.Redirect(w, r, "/studio?chat="+chat, http.StatusSeeOther)
	case fanfare.EInvalidState:
		http.Redirect(w, r, "/live/"+url.PathEscape(id)+"/summary", http.StatusSeeOther)
	case fanfare.EInternal:
		s.internalError(w, r, err)
	case fanfare.ENotFound:
		s.errorPage(w, r, http.StatusNotFound, "LIVE not found", "That LIVE does not exist. Nothing was changed.")
	default:
		s.forbidden(w, r, sentence(fanfare.ErrorMessage(err))+" Nothing was changed.")
	}
}

// goLive starts the visitor's LIVE.
func (s *Server) goLive(w http.ResponseWriter, r *http.Request, v *visitor) {
	title := r.PostForm.Get("title")
	err := formText(r.PostForm)
	textErr := err != nil
	if err == nil {
		_, err = s.live.Start(r.Context(), v.actor(), title)
	}
	switch code := fanfare.ErrorCode(err); code {
	case "":
		http.Redirect(w, r, "/studio?started=1", http.StatusSeeOther)
		return
	case fanfare.EConflict:
		// Already LIVE (a form sent twice, another tab): the studio shows it.
		http.Redirect(w, r, "/studio", http.StatusSeeOther)
		return
	case fanfare.EInternal:
		s.internalError(w, r, err)
		return
	}
	d, derr := s.studioData(r, v, title)
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	d.Error = goLiveMessage(err)
	if textErr {
		d.Error = sentence(fanfare.ErrorMessage(err))
	}
	s.render(w, r, statusOf(err), "studio", d)
}

// goLiveMessage explains why a LIVE could not start.
func goLiveMessage(err error) string {
	switch fanfare.ErrorCode(err) {
	case fanfare.ENotEligible:
		return "You can't go LIVE: " + sentence(fanfare.ErrorMessage(err))
	case fanfare.EInvalid:
		return "Give your LIVE a title of 1 to " + itoa(live.MaxTitle) + " characters."
	}
	return sentence(fanfare.ErrorMessage(err))
}

// endLive ends the visitor's LIVE and shows its summary.
func (s *Server) endLive(w http.ResponseWriter, r *http.Request, v *visitor) {
	id := r.PostForm.Get("live_id")
	if err := formText(r.PostForm); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Unreadable form", sentence(fanfare.ErrorMessage(err))+" Nothing was changed.")
		return
	}
	_, err := s.live.End(r.Context(), v.actor(), id)
	switch fanfare.ErrorCode(err) {
	case "", fanfare.EInvalidState:
		// Ended now, or already (a form sent twice): its summary either way.
		http.Redirect(w, r, "/live/"+url.PathEscape(id)+"/summary", http.StatusSeeOther)
	case fanfare.EInternal:
		s.internalError(w, r, err)
	case fanfare.ENotFound:
		s.errorPage(w, r, http.StatusNotFound, "LIVE not found", "That LIVE does not exist. Nothing was changed.")
	default:
		s.forbidden(w, r, sentence(fanfare.ErrorMessage(err))+" Nothing was changed.")
	}
}

// initials are a placeholder for a creator's picture: the first letters
// of the first two words of their name, or of their handle.
func initials(name, handle string) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(name) {
		r, _ := utf8.DecodeRuneInString(word)
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			continue
		}
		b.WriteString(strings.ToUpper(string(r)))
		if n++; n == 2 {
			break
		}
	}
	if b.Len() == 0 && handle != "" {
		r, _ := utf8.DecodeRuneInString(handle)
		b.WriteString(strings.ToUpper(string(r)))
	}
	return b.String()
}

// durationName writes a duration for people: "45 s", "12 min",
// "1 h 05 min".
func durationName(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return itoa(int64(d/time.Second)) + " s"
	case d < time.Hour:
		return itoa(int64(d/time.Minute)) + " min"
	}
	h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
	mm := itoa(m)
	if m < 10 {
		mm = "0" + mm
	}
	return itoa(h) + " h " + mm + " min"
}

// giftSymbols are the ids of the pictures in static/gifts.svg: one per gift
// of the default catalog, and "gift" for any other.
var giftSymbols = func() []string {
	b, err := files.ReadFile("static/gifts.svg")
	if err != nil {
		panic(err)
	}
	var ids []string
	for _, m := range regexp.MustCompile(`<symbol id="([^"]+)"`).FindAllSubmatch(b, -1) {
		ids = append(ids, string(m[1]))
	}
	return ids
}()

// giftIcon is the picture of gift id in static/gifts.svg.
func giftIcon(id string) string {
	if slices.Contains(giftSymbols, id) {
		return id
	}
	return "gift"
}

// summaryPage is a LIVE's summary: how long, how many watched, what it
// earned and who gave most.
type summaryPage struct {
	Layout
	*live.Summary
	Card     liveCard
	Duration string
	// Own: the visitor is the LIVE's creator.
	Own     bool
	RoomURL string
}

func (s *Server) summaryPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.visitor(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	sum, err := s.live.Summary(r.Context(), r.PathValue("id"))
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		s.errorPage(w, r, http.StatusNotFound, "LIVE not found", "There is no LIVE at this address. See who is LIVE now on the LIVE page.")
		return
	} else if err != nil {
		s.internalError(w, r, err)
		return
	}
	l := sum.Live
	d := &summaryPage{
		Layout:   Layout{Title: "LIVE summary · " + l.Title, Nav: "live", Visitor: v, CSRF: s.formToken(w, r, v)},
		Summary:  sum,
		Card:     s.liveCard(l),
		Duration: durationName(sum.Duration),
		Own:      v != nil && v.User.ID == l.CreatorID,
		RoomURL:  "/live/" + url.PathEscape(l.ID),
	}
	s.render(w, r, http.StatusOK, "live_summary", d)
}
