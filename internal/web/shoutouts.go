package web

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/profile"
	"github.com/fanfarehq/fanfare/internal/shoutout"
)

// Blobs deletes stored videos: the operator's rejection of a video removes
// its blob.
type Blobs interface {
	Delete(ctx context.Context, key string) error
}

// occasionLabels name the occasions for people.
var occasionLabels = map[shoutout.Occasion]string{
	shoutout.Birthday:        "Birthday",
	shoutout.Anniversary:     "Anniversary",
	shoutout.Congratulations: "Congratulations",
	shoutout.PepTalk:         "Pep talk",
	shoutout.Roast:           "Roast",
	shoutout.Advice:          "Advice",
	shoutout.Other:           "Something else",
}

// stateLabels name a request's states for people.
var stateLabels = map[shoutout.State]string{
	shoutout.Requested: "Waiting for an answer",
	shoutout.Accepted:  "Accepted",
	shoutout.InReview:  "Video in review",
	shoutout.Delivered: "Delivered",
	shoutout.Completed: "Completed",
	shoutout.Declined:  "Declined · refunded",
	shoutout.Cancelled: "Cancelled · refunded",
	shoutout.Expired:   "Expired · refunded",
	shoutout.Rejected:  "Rejected · refunded",
	shoutout.Disputed:  "Problem reported",
	shoutout.Refunded:  "Refunded",
	shoutout.Upheld:    "Delivered · dispute closed",
}

// countdown writes the time from now to at for people: "in 2 days 4
// hours", "in 3 hours 5 minutes", "in 12 minutes", "in less than a
// minute", or "now" once it passed.
func countdown(now, at time.Time) string {
	d := at.Sub(now)
	if d <= 0 {
		return "now"
	}
	plural := func(n int64, word string) string {
		if n == 1 {
			return "1 " + word
		}
		return itoa(n) + " " + word + "s"
	}
	days, hours, minutes := int64(d/(24*time.Hour)), int64(d%(24*time.Hour)/time.Hour), int64(d%time.Hour/time.Minute)
	switch {
	case days > 0 && hours > 0:
		return "in " + plural(days, "day") + " " + plural(hours, "hour")
	case days > 0:
		return "in " + plural(days, "day")
	case hours > 0 && minutes > 0:
		return "in " + plural(hours, "hour") + " " + plural(minutes, "minute")
	case hours > 0:
		return "in " + plural(hours, "hour")
	case minutes > 0:
		return "in " + plural(minutes, "minute")
	}
	return "in less than a minute"
}

// typicalName writes a typical delivery time: "about 2 days", "about 5
// hours", "under an hour".
func typicalName(d time.Duration) string {
	switch {
	case d >= 36*time.Hour:
		return "about " + itoa(int64((d+12*time.Hour)/(24*time.Hour))) + " days"
	case d >= 24*time.Hour:
		return "about a day"
	case d >= 90*time.Minute:
		return "about " + itoa(int64((d+30*time.Minute)/time.Hour)) + " hours"
	case d >= time.Hour:
		return "about an hour"
	}
	return "under an hour"
}

// shoutoutView is a request as a page shows it.
type shoutoutView struct {
	*shoutout.Request
	Occasion   string // its label
	StateLabel string
	// Countdown is the time left to the next deadline ("in 2 days 4
	// hours"), empty without one.
	Countdown string
	Path      string // the detail page
	VideoURL  string // the video's route, once it may be played
	Fiat      fanfare.Amount
}

func (s *Server) shoutoutView(r *shoutout.Request) shoutoutView {
	v := shoutoutView{Request: r, Occasion: occasionLabels[r.Occasion], StateLabel: cmp.Or(stateLabels[r.State], string(r.State)),
		Path: "/shoutouts/" + url.PathEscape(r.ID)}
	if r.Deadline != nil {
		v.Countdown = countdown(s.clock.Now(), r.Deadline.At)
	}
	if r.Video != nil {
		v.VideoURL = "/v1/shoutouts/" + url.PathEscape(r.ID) + "/video"
	}
	return v
}

// shoutoutOffer is the profile's Shoutouts section.
type shoutoutOffer struct {
	Price      fanfare.Amount
	Fiat       fanfare.Amount
	AcceptNote string
	Typical    string // "about 2 days"; empty before the first delivery
	Average    string // "4.5"; empty without reviews
	Count      int
	Reviews    []shoutout.Review
	Videos     []shoutoutView
	// RequestURL is the request form, when the visitor may ask (or must
	// log in first: LogIn).
	RequestURL string
	LogIn      bool
}

// profileShoutouts fills the profile's Shoutouts section, when the creator
// offers them.
func (s *Server) profileShoutouts(ctx context.Context, d *creatorPageData, v *visitor) error {
	p := d.Profile
	if s.shoutouts == nil || p.Shoutout == nil {
		return nil
	}
	fiat, err := s.wallet.Catalog().FiatValue(d.Currency, p.Shoutout.Price)
	if err != nil {
		return err
	}
	o := &shoutoutOffer{Price: p.Shoutout.Price, Fiat: fiat, AcceptNote: p.Shoutout.AcceptNote}
	if p.Shoutout.Typical != nil {
		o.Typical = typicalName(*p.Shoutout.Typical)
	}
	rv, err := s.shoutouts.CreatorReviews(ctx, p.ID, "", 3)
	if err != nil {
		return err
	}
	if rv.Count > 0 {
		o.Average, o.Count, o.Reviews = strconv.FormatFloat(rv.Average, 'f', 1, 64), rv.Count, rv.Reviews
	}
	videos, err := s.shoutouts.PublicVideos(ctx, p.ID, "", 4)
	if err != nil {
		return err
	}
	for i := range videos.Requests {
		o.Videos = append(o.Videos, s.shoutoutView(&videos.Requests[i]))
	}
	if p.Action(profile.ActionShoutout).State == profile.Available {
		o.RequestURL = d.URL + "/shoutout"
		if v == nil {
			o.LogIn, o.RequestURL = true, "/login?next="+url.QueryEscape(d.URL+"/shoutout")
		}
	}
	d.Shoutout = o
	return nil
}

// requestPageData is the shoutout request form.
type requestPageData struct {
	Layout
	Creator   *profile.Profile
	URL       string // the creator's profile
	Action    profile.Action
	Offer     *shoutoutOffer
	Occasions []occasionOption
	// What the fields hold, and each field's problem.
	ForSomeone    bool
	Recipient     string
	Occasion      string
	Instructions  string
	Public        bool
	Problems      map[string]string
	Max           int // instructions' characters
	MaxRecipient  int
	Key           string
	Coins         fanfare.Amount
	CannotSpend   string
	AcceptWindow  string
	DeliverWindow string
}

type occasionOption struct {
	Value, Label string
}

// requestInput is what a sent request form held.
type requestInput struct {
	forSomeone                        bool
	recipient, occasion, instructions string
	public                            bool
}

func (s *Server) requestPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	creator, ok := s.creator(w, r)
	if !ok {
		return
	}
	d, err := s.requestData(w, r, v, creator, requestInput{occasion: string(shoutout.Birthday)})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "shoutout_request", d)
}

func (s *Server) requestData(w http.ResponseWriter, r *http.Request, v *visitor, creator *fanfare.User, in requestInput) (*requestPageData, error) {
	cd, err := s.creatorData(w, r, v, creator, tipInput{})
	if err != nil {
		return nil, err
	}
	opts := s.shoutouts.Options()
	d := &requestPageData{
		Layout:        Layout{Title: "Request a shoutout from @" + creator.Handle, Visitor: v, CSRF: s.sessionToken(v), Currency: cd.Currency},
		Creator:       cd.Profile,
		URL:           cd.URL,
		Action:        cd.Profile.Action(profile.ActionShoutout),
		Offer:         cd.Shoutout,
		ForSomeone:    in.forSomeone,
		Recipient:     in.recipient,
		Occasion:      in.occasion,
		Instructions:  in.instructions,
		Public:        in.public,
		Problems:      map[string]string{},
		Max:           opts.MaxInstructions,
		MaxRecipient:  shoutout.MaxRecipient,
		Key:           newNonce(),
		Coins:         v.Wallet.Coins,
		AcceptWindow:  windowName(opts.AcceptWindow),
		DeliverWindow: windowName(opts.DeliveryWindow),
	}
	if cd.Tip != nil {
		d.CannotSpend = cd.Tip.CannotSpend
	}
	for _, o := range shoutout.Occasions {
		d.Occasions = append(d.Occasions, occasionOption{Value: string(o), Label: occasionLabels[o]})
	}
	return d, nil
}

// windowName writes a window for people: "3 days", "7 days", "12 hours",
// "30 seconds" (a demo's).
func windowName(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return unitCount(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unitCount(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unitCount(int64(d/time.Minute), "minute")
	}
	return unitCount(int64(d/time.Second), "second")
}

func unitCount(n int64, word string) string {
	return formatCoins(fanfare.Amount(n)) + " " + unitName(fanfare.Amount(n), word)
}

// sendRequest sends the request form: every field is checked at once, then
// the service holds the price.
func (s *Server) sendRequest(w http.ResponseWriter, r *http.Request, v *visitor) {
	creator, ok := s.creator(w, r)
	if !ok {
		return
	}
	f := r.PostForm
	in := requestInput{forSomeone: f.Get("recipient_type") == "other", recipient: strings.TrimSpace(f.Get("recipient")),
		occasion: f.Get("occasion"), instructions: f.Get("instructions"), public: f.Get("public") == "true"}
	problems := map[string]string{}
	if err := formText(f, "instructions"); err != nil {
		problems["instructions"] = sentence(fanfare.ErrorMessage(err))
	}
	recipient := in.recipient
	if !in.forSomeone {
		recipient = cmp.Or(v.User.DisplayName, "@"+v.User.Handle)
	} else if n := utf8.RuneCountInString(recipient); n == 0 {
		problems["recipient"] = "Write the name of the person the video is for."
	} else if n > shoutout.MaxRecipient {
		problems["recipient"] = "A name is at most " + itoa(shoutout.MaxRecipient) + " characters; this one has " + itoa(n) + "."
	}
	if _, ok := occasionLabels[shoutout.Occasion(in.occasion)]; !ok {
		problems["occasion"] = "Choose an occasion."
	}
	if n, max := utf8.RuneCountInString(strings.TrimSpace(in.instructions)), s.shoutouts.Options().MaxInstructions; n > max {
		problems["instructions"] = "Instructions are at most " + itoa(max) + " characters; yours have " + itoa(n) + "."
	}
	var err error
	var placed *shoutout.Placed
	if len(problems) == 0 {
		placed, err = s.shoutouts.Request(r.Context(), v.actor(), creator.ID, shoutout.RequestInput{Recipient: recipient,
			Occasion: shoutout.Occasion(in.occasion), Instructions: in.instructions, Private: !in.public}, f.Get("idempotency_key"))
		if err == nil {
			http.Redirect(w, r, "/shoutouts/"+url.PathEscape(placed.Request.ID)+"?requested=1", http.StatusSeeOther)
			return
		}
		if fanfare.ErrorCode(err) == fanfare.EInternal {
			s.internalError(w, r, err)
			return
		}
	}
	d, derr := s.requestData(w, r, v, creator, in)
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	d.Problems = problems
	status := http.StatusUnprocessableEntity
	if err != nil {
		status = statusOf(err)
		d.Error = s.requestMessage(err, creator, d)
		if fe, ok := errors.AsType[*fanfare.Error](err); ok {
			d.Reasons = fe.Reasons
		}
	} else {
		d.Error = "Your request was not sent; check the fields below. No coins were taken."
	}
	s.render(w, r, status, "shoutout_request", d)
}

// requestMessage explains a request that was not sent.
func (s *Server) requestMessage(err error, creator *fanfare.User, d *requestPageData) string {
	const nothing = " No coins were taken."
	switch fanfare.ErrorCode(err) {
	case fanfare.ENotEligible, fanfare.ERegionBlocked:
		return "Your request to @" + creator.Handle + " was not sent, and no coins were taken:"
	case fanfare.EInsufficientFunds:
		price := fanfare.Amount(0)
		if d.Offer != nil {
			price = d.Offer.Price
		}
		return "You don't have enough coins for this shoutout (" + coinsName(price) + "): you have " + coinsName(d.Coins) +
			". Buy coins in your wallet, then try again."
	case fanfare.EIdempotencyConflict:
		return "This form was already sent with other details. Check them below and send it again." + nothing
	case fanfare.EIdempotencyKeyRequired:
		return "This form is incomplete. Reload the page and try again." + nothing
	}
	return sentence(fanfare.ErrorMessage(err)) + nothing
}

// inboxPageData is the fan's shoutouts.
type inboxPageData struct {
	Layout
	Requests []shoutoutView
	MoreURL  string
	Paged    bool
}

func (s *Server) inboxPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	cursor := r.URL.Query().Get("cursor")
	page, err := s.shoutouts.List(r.Context(), v.actor(), shoutout.ListQuery{Role: "fan", Cursor: cursor, Limit: 20})
	if fanfare.ErrorCode(err) == fanfare.EInvalid {
		cursor = ""
		page, err = s.shoutouts.List(r.Context(), v.actor(), shoutout.ListQuery{Role: "fan", Limit: 20})
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d := &inboxPageData{Layout: Layout{Title: "Your shoutouts", Nav: "shoutouts", Visitor: v, CSRF: s.sessionToken(v)}, Paged: cursor != ""}
	for i := range page.Requests {
		d.Requests = append(d.Requests, s.shoutoutView(&page.Requests[i]))
	}
	if page.Next != "" {
		d.MoreURL = "/shoutouts?cursor=" + url.QueryEscape(page.Next)
	}
	s.render(w, r, http.StatusOK, "shoutouts", d)
}

// detailPageData is one request's page, for its fan, its creator or the
// operator.
type detailPageData struct {
	Layout
	R         shoutoutView
	IsFan     bool
	IsCreator bool
	// What the fan may do now.
	CanCancel, CanReview, CanDispute, CanPublic, CanAnswer bool
	Review                                                 *shoutout.Review
	ReviewEditable                                         bool
	Stars                                                  []int
	// Item is the request with what the creator may do now.
	Item queueItem
}

// creatorActions are the creator's forms on a request.
type creatorActions struct {
	CanAccept, CanDecline, CanExtend, CanUpload bool
	CSRF                                        string
	Next                                        string // where a form comes back
	MaxDays                                     []int
}

func (s *Server) creatorActionsFor(r *shoutout.Request, csrf, next string) creatorActions {
	now := s.clock.Now()
	c := creatorActions{CSRF: csrf, Next: next}
	switch r.State {
	case shoutout.Requested:
		c.CanAccept, c.CanDecline = now.Before(r.AcceptBy), true
	case shoutout.Accepted:
		c.CanUpload = r.DeliverBy != nil && now.Before(*r.DeliverBy)
		c.CanExtend = c.CanUpload && r.Extension == nil
	}
	for i := 1; i <= shoutout.MaxExtensionDays; i++ {
		c.MaxDays = append(c.MaxDays, i)
	}
	return c
}

func (s *Server) detailPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.detailData(r, v)
	if err != nil {
		s.shoutoutError(w, r, err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "cancel":
		d.Notice = "Your request is cancelled. Every coin is back in your wallet."
	case "review":
		d.Notice = "Thank you: your review is saved."
	case "dispute":
		d.Notice = "Your report is sent. The platform will look into it; the coins stay held meanwhile."
	case "public":
		d.Notice = "Your video now shows on @" + d.R.Creator + "'s profile."
	case "private":
		d.Notice = "Your video is private again."
	case "extension":
		d.Notice = "Your answer is sent."
	case "accept":
		d.Notice = "You accepted this request."
	case "decline":
		d.Notice = "You declined this request; the fan got every coin back."
	case "extend":
		d.Notice = "You asked for more days; the fan decides."
	}
	if r.URL.Query().Get("requested") == "1" {
		d.Notice = "Your request is sent. " + coinsName(d.R.Price) + " are held until @" + d.R.Creator + " delivers; if they decline or do not answer, every coin comes back to you."
	}
	s.render(w, r, http.StatusOK, "shoutout", d)
}

// shoutoutError answers a request the visitor may not see (404, never a
// leak), or a failure.
func (s *Server) shoutoutError(w http.ResponseWriter, r *http.Request, err error) {
	switch fanfare.ErrorCode(err) {
	case fanfare.ENotFound, fanfare.EForbidden:
		s.errorPage(w, r, http.StatusNotFound, "Shoutout not found", "There is no shoutout request of yours at this address.")
	default:
		s.internalError(w, r, err)
	}
}

func (s *Server) detailData(r *http.Request, v *visitor) (*detailPageData, error) {
	ctx := r.Context()
	req, err := s.shoutouts.Get(ctx, v.actor(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	d := &detailPageData{
		Layout:    Layout{Title: "Shoutout from @" + req.Creator, Nav: "shoutouts", Visitor: v, CSRF: s.sessionToken(v)},
		R:         s.shoutoutView(req),
		IsFan:     req.FanID == v.User.ID,
		IsCreator: req.CreatorID == v.User.ID,
		Stars:     []int{5, 4, 3, 2, 1},
	}
	if d.IsCreator {
		d.Title = "Shoutout for @" + req.Fan
		d.Nav = "studio-shoutouts"
		d.Item = queueItem{shoutoutView: d.R, Actions: s.creatorActionsFor(req, d.CSRF, d.R.Path)}
	}
	if d.IsFan && !req.Visible() {
		// The fan sees the video only once it is delivered (and approved).
		d.R.VideoURL = ""
	}
	if d.IsFan {
		d.CanCancel = req.State == shoutout.Requested
		d.CanAnswer = req.Extension != nil && req.Extension.State == shoutout.ExtensionAsked && req.State == shoutout.Accepted
		reviewable := req.State == shoutout.Delivered || req.State == shoutout.Completed || req.State == shoutout.Disputed || req.State == shoutout.Upheld
		d.CanDispute = req.State == shoutout.Delivered && req.DisputeBy != nil && now.Before(*req.DisputeBy)
		d.CanPublic = req.Visible()
		if reviewable {
			rv, err := s.shoutouts.ReviewOf(ctx, v.actor(), req.ID)
			if err != nil {
				return nil, err
			}
			d.Review = rv
			d.CanReview = rv == nil
			d.ReviewEditable = rv != nil && now.Before(rv.CreatedAt.Add(s.shoutouts.Options().ReviewEditWindow))
		}
	}
	return d, nil
}

// fanAction runs the fan's forms on a request: cancel, review, dispute,
// public, extension.
func (s *Server) fanAction(w http.ResponseWriter, r *http.Request, v *visitor) {
	ctx, id, f := r.Context(), r.PathValue("id"), r.PostForm
	action := r.PathValue("action")
	done := action
	var err error
	if err = formText(f, "text", "reason"); err == nil {
		switch action {
		case "cancel":
			_, err = s.shoutouts.Cancel(ctx, v.actor(), id)
		case "review":
			var rating int
			rating, err = strconv.Atoi(f.Get("rating"))
			if err != nil || rating < 1 || rating > 5 {
				err = fanfare.Errorf(fanfare.EInvalid, "choose a rating from 1 to 5 stars")
			} else if f.Get("edit") == "true" {
				_, err = s.shoutouts.EditReview(ctx, v.actor(), id, rating, f.Get("text"))
			} else {
				_, err = s.shoutouts.Review(ctx, v.actor(), id, rating, f.Get("text"))
			}
		case "dispute":
			_, err = s.shoutouts.Dispute(ctx, v.actor(), id, f.Get("reason"))
		case "public":
			public := f.Get("public") == "true"
			if !public {
				done = "private"
			}
			_, err = s.shoutouts.SetPublic(ctx, v.actor(), id, public)
		case "extension":
			_, err = s.shoutouts.AnswerExtension(ctx, v.actor(), id, f.Get("accept") == "true")
		default:
			s.notFound(w, r)
			return
		}
	}
	if err == nil {
		http.Redirect(w, r, "/shoutouts/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
		return
	}
	s.detailRefused(w, r, v, err)
}

// detailRefused shows the request's page again with why a form was
// refused.
func (s *Server) detailRefused(w http.ResponseWriter, r *http.Request, v *visitor, err error) {
	if c := fanfare.ErrorCode(err); c == fanfare.EInternal {
		s.internalError(w, r, err)
		return
	}
	d, derr := s.detailData(r, v)
	if derr != nil {
		s.shoutoutError(w, r, derr)
		return
	}
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		s.shoutoutError(w, r, err)
		return
	}
	d.Error = sentence(fanfare.ErrorMessage(err)) + " Nothing was changed."
	s.render(w, r, statusOf(err), "shoutout", d)
}

// queuePageData is the creator's requests.
type queuePageData struct {
	Layout
	Open     []queueItem
	Past     []shoutoutView
	Settings *shoutout.Settings
}

type queueItem struct {
	shoutoutView
	Actions creatorActions
}

func (s *Server) queuePage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.queueData(r, v)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "accept":
		d.Notice = "You accepted the request. Upload the video before its deadline."
	case "decline":
		d.Notice = "You declined the request; the fan got every coin back."
	case "extend":
		d.Notice = "You asked for more days; the fan decides."
	}
	s.render(w, r, http.StatusOK, "studio_shoutouts", d)
}

func (s *Server) queueData(r *http.Request, v *visitor) (*queuePageData, error) {
	ctx := r.Context()
	page, err := s.shoutouts.List(ctx, v.actor(), shoutout.ListQuery{Role: "creator", Limit: shoutout.MaxPage})
	if err != nil {
		return nil, err
	}
	st, err := s.shoutouts.Settings(ctx, v.User.ID)
	if err != nil {
		return nil, err
	}
	d := &queuePageData{Layout: Layout{Title: "Shoutout requests", Nav: "studio-shoutouts", Visitor: v, CSRF: s.sessionToken(v)}, Settings: st}
	for i := range page.Requests {
		req := &page.Requests[i]
		switch req.State {
		case shoutout.Requested, shoutout.Accepted, shoutout.InReview:
			d.Open = append(d.Open, queueItem{shoutoutView: s.shoutoutView(req), Actions: s.creatorActionsFor(req, d.CSRF, "/studio/shoutouts")})
		default:
			d.Past = append(d.Past, s.shoutoutView(req))
		}
	}
	// The nearest deadline first.
	for i := 1; i < len(d.Open); i++ {
		for j := i; j > 0 && d.Open[j].Deadline != nil && d.Open[j-1].Deadline != nil && d.Open[j].Deadline.At.Before(d.Open[j-1].Deadline.At); j-- {
			d.Open[j], d.Open[j-1] = d.Open[j-1], d.Open[j]
		}
	}
	return d, nil
}

// creatorAction runs the creator's forms: accept, decline, extend.
func (s *Server) creatorAction(w http.ResponseWriter, r *http.Request, v *visitor) {
	ctx, id, f := r.Context(), r.PathValue("id"), r.PostForm
	action := r.PathValue("action")
	var err error
	if err = formText(f, "note"); err == nil {
		switch action {
		case "accept":
			_, err = s.shoutouts.Accept(ctx, v.actor(), id)
		case "decline":
			_, err = s.shoutouts.Decline(ctx, v.actor(), id, f.Get("note"))
		case "extend":
			days, perr := strconv.Atoi(f.Get("days"))
			if perr != nil || days < 1 || days > shoutout.MaxExtensionDays {
				err = fanfare.Errorf(fanfare.EInvalid, "choose 1 to %d more days", shoutout.MaxExtensionDays)
			} else {
				_, err = s.shoutouts.AskExtension(ctx, v.actor(), id, days)
			}
		default:
			s.notFound(w, r)
			return
		}
	}
	next := "/studio/shoutouts"
	if f.Get("next") == "/shoutouts/"+url.PathEscape(id) {
		next = f.Get("next")
	}
	if err == nil {
		http.Redirect(w, r, next+"?done="+action, http.StatusSeeOther)
		return
	}
	switch fanfare.ErrorCode(err) {
	case fanfare.EInternal:
		s.internalError(w, r, err)
		return
	case fanfare.ENotFound, fanfare.EForbidden:
		s.shoutoutError(w, r, err)
		return
	}
	if next != "/studio/shoutouts" {
		s.detailRefused(w, r, v, err)
		return
	}
	d, derr := s.queueData(r, v)
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	d.Error = sentence(fanfare.ErrorMessage(err)) + " Nothing was changed."
	s.render(w, r, statusOf(err), "studio_shoutouts", d)
}

// opsShoutoutsData is the operator's queue: disputes, and videos waiting
// for review when moderation is on.
type opsShoutoutsData struct {
	Layout
	Disputes []shoutoutView
	Review   bool
	InReview []shoutoutView
}

func (s *Server) opsShoutoutsPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.opsShoutoutsData(r, v)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "refund":
		d.Notice = "Refunded: the fan has their coins back, the creator's diamonds are taken back."
	case "uphold":
		d.Notice = "Upheld: the creator keeps the payment."
	case "approve":
		d.Notice = "Approved: the fan can watch the video."
	case "reject":
		d.Notice = "Rejected: the video is removed."
	}
	s.render(w, r, http.StatusOK, "ops_shoutouts", d)
}

func (s *Server) opsShoutoutsData(r *http.Request, v *visitor) (*opsShoutoutsData, error) {
	ctx := r.Context()
	d := &opsShoutoutsData{Layout: Layout{Title: "Shoutout disputes", Nav: "ops-shoutouts", Visitor: v, CSRF: s.sessionToken(v)},
		Review: s.shoutouts.Options().Review}
	page, err := s.shoutouts.List(ctx, v.actor(), shoutout.ListQuery{Role: "all", State: shoutout.Disputed, Limit: shoutout.MaxPage})
	if err != nil {
		return nil, err
	}
	for i := range page.Requests {
		d.Disputes = append(d.Disputes, s.shoutoutView(&page.Requests[i]))
	}
	if d.Review {
		page, err := s.shoutouts.List(ctx, v.actor(), shoutout.ListQuery{Role: "all", State: shoutout.InReview, Limit: shoutout.MaxPage})
		if err != nil {
			return nil, err
		}
		for i := range page.Requests {
			d.InReview = append(d.InReview, s.shoutoutView(&page.Requests[i]))
		}
	}
	return d, nil
}

// opsShoutoutAction resolves a dispute (refund, uphold) or decides on a
// video in review (approve, reject).
func (s *Server) opsShoutoutAction(w http.ResponseWriter, r *http.Request, v *visitor) {
	ctx, id, f := r.Context(), r.PathValue("id"), r.PostForm
	action := r.PathValue("action")
	var err error
	if err = formText(f, "note"); err == nil {
		switch action {
		case "refund", "uphold":
			_, err = s.shoutouts.Resolve(ctx, v.actor(), id, action, f.Get("note"))
		case "approve":
			_, err = s.shoutouts.Approve(ctx, v.actor(), id)
		case "reject":
			var video *shoutout.VideoInfo
			_, video, err = s.shoutouts.Reject(ctx, v.actor(), id, f.Get("note"))
			if err == nil && video != nil && s.blobs != nil {
				if derr := s.blobs.Delete(ctx, video.Key); derr != nil {
					s.log.WarnContext(ctx, "delete a rejected shoutout video", "request", id, "err", derr)
				}
			}
		default:
			s.notFound(w, r)
			return
		}
	}
	if err == nil {
		http.Redirect(w, r, "/ops/shoutouts?done="+action, http.StatusSeeOther)
		return
	}
	if fanfare.ErrorCode(err) == fanfare.EInternal {
		s.internalError(w, r, err)
		return
	}
	d, derr := s.opsShoutoutsData(r, v)
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	d.Error = sentence(fanfare.ErrorMessage(err)) + " Nothing was changed."
	s.render(w, r, statusOf(err), "ops_shoutouts", d)
}

// shoutoutSettingsView is the monetization page's Shoutouts form.
type shoutoutSettingsView struct {
	*shoutout.Settings
	Problem     string
	MaxNote     int
	MaxCapacity int
	Released    bool
}

func (s *Server) shoutoutSettings(ctx context.Context, v *visitor) (*shoutoutSettingsView, error) {
	if s.shoutouts == nil || !eligibility.Released(eligibility.Shoutouts) {
		return nil, nil
	}
	st, err := s.shoutouts.Settings(ctx, v.User.ID)
	if err != nil {
		return nil, err
	}
	return &shoutoutSettingsView{Settings: st, MaxNote: shoutout.MaxAcceptNote, MaxCapacity: shoutout.MaxCapacity, Released: true}, nil
}

// setShoutouts saves the creator's Shoutouts settings.
func (s *Server) setShoutouts(w http.ResponseWriter, r *http.Request, v *visitor) {
	f := r.PostForm
	err := formText(f, "accept_note")
	var price, capacity int64
	if err == nil {
		var ok bool
		if price, ok = wholeNumber(f.Get("price")); !ok {
			err = fanfare.Errorf(fanfare.EInvalid, "enter the price as a whole number of coins, such as 1,000")
		} else if capacity, ok = wholeNumber(cmp.Or(f.Get("capacity"), "0")); !ok {
			err = fanfare.Errorf(fanfare.EInvalid, "enter the capacity as a whole number of requests")
		}
	}
	if err == nil {
		_, err = s.shoutouts.SetSettings(r.Context(), v.actor(), shoutout.SettingsInput{Enabled: f.Get("enabled") == "true",
			Price: fanfare.Amount(price), Capacity: int(capacity), Paused: f.Get("paused") == "true", AcceptNote: f.Get("accept_note")})
	}
	if err == nil {
		http.Redirect(w, r, "/studio/monetization?shoutouts=saved#shoutouts", http.StatusSeeOther)
		return
	}
	if fanfare.ErrorCode(err) == fanfare.EInternal {
		s.internalError(w, r, err)
		return
	}
	d, derr := s.monetizationData(r, v, "")
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	if d.Shoutouts != nil {
		d.Shoutouts.Problem = sentence(fanfare.ErrorMessage(err)) + " Nothing was changed."
	}
	d.Error = "Your Shoutouts settings were not saved: " + sentence(fanfare.ErrorMessage(err))
	s.render(w, r, statusOf(err), "monetization", d)
}
