package web

import (
	"cmp"
	"errors"
	"hash/fnv"
	"net/http"
	"net/url"
	"strings"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/profile"
	"github.com/fanfarehq/fanfare/internal/subscription"
	"github.com/fanfarehq/fanfare/internal/tips"
)

// tipPresets are the tip form's amount chips; those outside the
// configured range are left out.
var tipPresets = []fanfare.Amount{100, 500, 1_000, 5_000}

// defaultTipPreset is the chip chosen when the form opens.
const defaultTipPreset fanfare.Amount = 500

// avatarHues is how many colours the avatars take (app.css .hue-0 ...).
const avatarHues = 8

// actionLabels are the profile's buttons.
var actionLabels = map[string]string{
	profile.ActionTip:       "Send a tip",
	profile.ActionShoutout:  "Request a shoutout",
	profile.ActionSubscribe: "Subscribe",
	profile.ActionJoinLive:  "Watch the LIVE",
}

// creatorPageData is a creator's profile as the visitor sees it: who they
// are, their LIVE, what the visitor may do there (and why not) and the tip
// form.
type creatorPageData struct {
	Layout
	Profile  *profile.Profile
	Initials string
	Hue      int    // the avatar's colour, 0 to avatarHues-1
	Region   string // the region's name
	URL      string // the profile's path
	Own      bool   // the visitor's own profile
	// Private are, on the creator's own profile, the reasons fans do not
	// read (standing, age): fans see the features unavailable, without why.
	Private []fanfare.Reason
	// Operator: the visitor is the operator, who reads every reason.
	Operator bool
	// Actions are the buttons, available or greyed with their reasons;
	// hidden ones are left out.
	Actions []actionView
	// Tip is the tip form, when the visitor may tip.
	Tip *tipForm
	// Shoutout is the creator's Shoutouts offer, when they make one.
	Shoutout *shoutoutOffer
	// Subscribe is the Subscribe dialog, when the visitor may subscribe.
	Subscribe *subscribeOffer
	// Posts are the creator's newest subscriber-only posts, locked unless
	// the visitor may read them.
	Posts *profilePostsView
}

// actionView is one button of the profile.
type actionView struct {
	Name    string // profile.ActionTip...
	State   string // profile.Available or profile.Unavailable
	Reasons []fanfare.Reason
	Label   string
	// Href is where an available action leads; empty, it is a button.
	Href string
	// Dialog is the <dialog> an available action opens with script.
	Dialog string
	// Subscribed is the visitor's subscription to the creator, shown
	// instead of the Subscribe button.
	Subscribed *subscription.Subscription
}

// tipForm is the tip form with what it holds.
type tipForm struct {
	Path    string // where it posts
	Presets []tipPreset
	// Custom and Message are what the fields hold.
	Custom     string
	Message    string
	MaxMessage int
	Min, Max   fanfare.Amount
	// Key is the tip's idempotency key, new with every rendering of the
	// form, so a form sent twice tips once.
	Key string
	// Coins is the visitor's balance; CannotSpend why they may not spend
	// (a frozen wallet), when they may not: the Send button is disabled
	// and says so.
	Coins       fanfare.Amount
	CannotSpend string
}

// tipPreset is an amount chip with its value in the visitor's currency.
type tipPreset struct {
	Coins   fanfare.Amount
	Fiat    fanfare.Amount
	Checked bool
}

// tipInput is what a sent tip form held, kept when it is shown again.
type tipInput struct {
	preset, custom, message string
}

// creatorPage shows a creator's profile, with the confirmation of a tip
// just sent.
func (s *Server) creatorPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.visitor(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	creator, ok := s.creator(w, r)
	if !ok {
		return
	}
	d, err := s.creatorData(w, r, v, creator, tipInput{})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if id := r.URL.Query().Get("tipped"); id != "" && v != nil {
		// A link someone edited finds nothing and shows no message.
		if t, err := s.tips.SentTip(r.Context(), v.User.ID, id); err == nil && t.CreatorID == creator.ID {
			d.Notice = "You tipped @" + creator.Handle + " " + coinsName(t.Coins) + ". Your balance is now " + coinsName(v.Wallet.Coins) + "."
		}
	}
	s.render(w, r, http.StatusOK, "creator", d)
}

// creator reads the user of the path's handle, answering 404 when there is
// none.
func (s *Server) creator(w http.ResponseWriter, r *http.Request) (*fanfare.User, bool) {
	handle := strings.TrimPrefix(r.PathValue("handle"), "@")
	u, err := s.accounts.ByHandle(r.Context(), handle)
	switch fanfare.ErrorCode(err) {
	case "":
		return u, true
	case fanfare.ENotFound:
		s.errorPage(w, r, http.StatusNotFound, "Creator not found", "There is no creator with this handle. Check the address, or find creators on the LIVE page.")
	default:
		s.internalError(w, r, err)
	}
	return nil, false
}

// creatorData gathers creator's profile as v (nil: logged out) sees it;
// in is what the tip form holds.
func (s *Server) creatorData(w http.ResponseWriter, r *http.Request, v *visitor, creator *fanfare.User, in tipInput) (*creatorPageData, error) {
	ctx := r.Context()
	var viewer *fanfare.User
	if v != nil {
		viewer = v.User
	}
	operator := viewer != nil && viewer.Role == fanfare.RoleOperator
	p, err := s.profiles.For(ctx, profile.Viewer{User: viewer, Operator: operator}, creator)
	if err != nil {
		return nil, err
	}
	cat := s.wallet.Catalog()
	name := cmp.Or(p.DisplayName, "@"+p.Handle)
	d := &creatorPageData{
		Layout:   Layout{Title: name + " (@" + p.Handle + ")", Visitor: v, CSRF: s.formToken(w, r, v), Currency: cat.CurrencyFor("")},
		Profile:  p,
		Initials: initials(p.DisplayName, p.Handle),
		Hue:      avatarHue(p.Handle),
		Region:   regionName(p.Region),
		URL:      "/creators/" + url.PathEscape(p.Handle),
		Own:      viewer != nil && viewer.ID == p.ID,
	}
	d.Operator = operator && !d.Own
	if d.Own {
		seen := map[string]bool{}
		for _, a := range p.Actions {
			for _, r := range a.Reasons {
				if eligibility.Private(r.Code) && !seen[r.Message] {
					seen[r.Message] = true
					d.Private = append(d.Private, r)
				}
			}
		}
	}
	var cannotSpend string
	if v != nil {
		o, err := s.wallet.Overview(ctx, v.User.ID, "")
		if err != nil {
			return nil, err
		}
		// The page's figures all come from this one reading.
		v.Wallet = &o.Wallet
		d.Currency = o.Currency
		// Why they cannot spend (a frozen wallet; under 18, though the
		// rules of Tips refuse a minor before the form shows).
		cannotSpend = o.CannotSpend
	}
	for _, a := range p.Actions {
		if a.State == profile.Hidden {
			continue
		}
		av := actionView{Name: a.Action, State: a.State, Reasons: a.Reasons, Label: actionLabels[a.Action]}
		if a.State == profile.Available {
			switch a.Action {
			case profile.ActionTip:
				av.Href = "#tip"
				if v == nil {
					av.Label, av.Href = "Log in to tip", "/login?next="+url.QueryEscape(d.URL)
				}
			case profile.ActionShoutout:
				av.Href = d.URL + "/shoutout"
				if v == nil {
					av.Label, av.Href = "Log in to request a shoutout", "/login?next="+url.QueryEscape(d.URL+"/shoutout")
				}
			case profile.ActionSubscribe:
				av.Href, av.Dialog = d.URL+"/subscribe", "subscribe-dialog"
				if v == nil {
					av.Label, av.Href, av.Dialog = "Log in to subscribe", "/login?next="+url.QueryEscape(d.URL+"/subscribe"), ""
				}
			case profile.ActionJoinLive:
				av.Href = "/live/" + url.PathEscape(a.LiveID)
			}
		}
		if a.Action == profile.ActionSubscribe && p.Subscription != nil && p.Subscription.Subscription != nil {
			av.Subscribed = p.Subscription.Subscription
		}
		d.Actions = append(d.Actions, av)
	}
	if err := s.profileShoutouts(ctx, d, v); err != nil {
		return nil, err
	}
	if d.Posts, err = s.profilePosts(ctx, d, v); err != nil {
		return nil, err
	}
	if v != nil && p.Action(profile.ActionSubscribe).State == profile.Available {
		o, err := s.subscribeOfferFor(d, v, "")
		if err != nil {
			return nil, err
		}
		if o != nil {
			o.CannotSpend = cannotSpend
		}
		d.Subscribe = o
	}
	if v == nil || p.Action(profile.ActionTip).State != profile.Available {
		return d, nil
	}
	f := &tipForm{
		Path:        d.URL + "/tip",
		Custom:      in.custom,
		Message:     in.message,
		MaxMessage:  tips.MaxMessage,
		Min:         p.TipMin,
		Max:         p.TipMax,
		Key:         newNonce(),
		Coins:       v.Wallet.Coins,
		CannotSpend: cannotSpend,
	}
	chosen := in.preset
	if in.preset == "" && in.custom == "" {
		chosen = itoa(defaultTipPreset)
	}
	for _, c := range tipPresets {
		if c < p.TipMin || c > p.TipMax {
			continue
		}
		fiat, err := cat.FiatValue(d.Currency, c)
		if err != nil {
			return nil, err
		}
		f.Presets = append(f.Presets, tipPreset{Coins: c, Fiat: fiat, Checked: in.custom == "" && chosen == itoa(c)})
	}
	if in.preset == "" && in.custom == "" && len(f.Presets) > 0 && !anyChecked(f.Presets) {
		f.Presets[0].Checked = true
	}
	d.Tip = f
	return d, nil
}

func anyChecked(ps []tipPreset) bool {
	for _, p := range ps {
		if p.Checked {
			return true
		}
	}
	return false
}

// sendTip sends the tip form: the amount of the chosen chip, or the one
// typed instead, and the message. Its idempotency key makes a second
// submission of the same form answer like the first without tipping again.
func (s *Server) sendTip(w http.ResponseWriter, r *http.Request, v *visitor) {
	creator, ok := s.creator(w, r)
	if !ok {
		return
	}
	f := r.PostForm
	in := tipInput{preset: strings.TrimSpace(f.Get("coins")), custom: strings.TrimSpace(f.Get("custom_coins")), message: f.Get("message")}
	err := formText(f)
	var coins fanfare.Amount
	if err == nil {
		coins, err = parseTip(cmp.Or(in.custom, in.preset))
	}
	var sent *tips.Sent
	if err == nil {
		sent, err = s.tips.Send(r.Context(), v.actor(), creator.ID, coins, in.message, f.Get("idempotency_key"))
	}
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EInternal {
			s.internalError(w, r, err)
			return
		}
		d, derr := s.creatorData(w, r, v, creator, in)
		if derr != nil {
			s.internalError(w, r, derr)
			return
		}
		d.Error = s.tipMessage(err, creator, coins, v.Wallet.Coins)
		if fe, ok := errors.AsType[*fanfare.Error](err); ok {
			d.Reasons = fe.Reasons
		}
		s.render(w, r, statusOf(err), "creator", d)
		return
	}
	http.Redirect(w, r, "/creators/"+url.PathEscape(creator.Handle)+"?tipped="+url.QueryEscape(sent.Tip.ID), http.StatusSeeOther)
}

// parseTip reads the tip's amount.
func parseTip(raw string) (fanfare.Amount, error) {
	if raw == "" {
		return 0, fanfare.Errorf(fanfare.EInvalid, "choose an amount, or type one")
	}
	n, ok := wholeNumber(raw)
	if !ok {
		return 0, fanfare.Errorf(fanfare.EInvalid, "enter the amount as a whole number of coins, such as 500")
	}
	return fanfare.Amount(n), nil
}

// tipMessage explains a tip that was not sent; coins is the amount asked,
// balance the visitor's coins.
func (s *Server) tipMessage(err error, creator *fanfare.User, coins, balance fanfare.Amount) string {
	const nothing = " No coins were taken."
	switch fanfare.ErrorCode(err) {
	case fanfare.ENotEligible, fanfare.ERegionBlocked:
		return "Your tip to @" + creator.Handle + " was not sent, and no coins were taken:"
	case fanfare.EInsufficientFunds:
		return "You don't have enough coins for a tip of " + coinsName(coins) + ": you have " + coinsName(balance) +
			". Buy coins in your wallet, then try again."
	case fanfare.EIdempotencyConflict:
		return "This form was already sent with another amount or message. Check them below and send it again." + nothing
	case fanfare.EIdempotencyKeyRequired:
		return "This form is incomplete. Reload the page and try again." + nothing
	case fanfare.EInvalid:
		if min, max := s.tips.Limits(); coins != 0 && (coins < min || coins > max) {
			return "A tip is " + formatCoins(min) + " to " + formatCoins(max) + " coins." + nothing
		}
	}
	return sentence(fanfare.ErrorMessage(err)) + nothing
}

// coinsName writes an amount of coins for people: "1 coin", "500 coins".
func coinsName(n fanfare.Amount) string {
	if n == 1 {
		return "1 coin"
	}
	return formatCoins(n) + " coins"
}

// avatarHue picks an avatar's colour from a handle, the same every time.
func avatarHue(handle string) int {
	h := fnv.New32a()
	h.Write([]byte(handle))
	return int(h.Sum32() % avatarHues)
}

// regionName names a region for people: "Türkiye", or its code when it
// is not in the list of countries.
func regionName(code string) string {
	for _, r := range countries {
		if r.Code == code {
			return r.Name
		}
	}
	return code
}
