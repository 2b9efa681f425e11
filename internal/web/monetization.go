package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/tips"
)

// receivedPageSize is how many received tips the monetization page lists
// at once.
const receivedPageSize = 10

// monetizationPageData is a creator's monetization settings: what they
// may earn with and what they miss, their Tips switch and the tips they
// received.
type monetizationPageData struct {
	Layout
	Checklist []eligibility.FeatureChecklist
	// Coming says, for each feature not in this release, that it is not
	// available yet (it shows no checklist: nobody can be eligible).
	Coming map[string]string
	// TipsOn: the creator turned Tips on; TipsOpen: fans can tip them now
	// (on, and every rule met).
	TipsOn     bool
	TipsOpen   bool
	ProfileURL string
	Received   []tips.Tip
	Paged      bool   // showing an older page
	MoreURL    string // the next, older page; empty on the last one
	NewestURL  string
	// Shoutouts is the Shoutouts settings form.
	Shoutouts *shoutoutSettingsView
	// Plan is the LIVE Subscription plan editor.
	Plan *planView
	// Content: the plan editor links the emote editor and the posts.
	Content bool
}

func (s *Server) monetizationPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.monetizationData(r, v, r.URL.Query().Get("cursor"))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	switch r.URL.Query().Get("tips") {
	case "on":
		if d.TipsOpen {
			d.Notice = "Tips are on: fans can tip you from your profile."
		} else {
			d.Notice = "Tips are on. Fans can tip you once you meet every requirement of Tips below."
		}
	case "off":
		d.Notice = "Tips are off: fans no longer see a Tip button on your profile."
	}
	if r.URL.Query().Get("shoutouts") == "saved" && d.Shoutouts != nil {
		switch st := d.Shoutouts; {
		case !st.Enabled:
			d.Notice = "Shoutouts are off: fans see no Request button on your profile."
		case st.Paused:
			d.Notice = "Shoutouts are paused: fans read that you paused requests."
		case !st.Eligible:
			d.Notice = "Shoutouts are on. Fans can request them once you meet every requirement of Shoutouts below."
		default:
			d.Notice = "Shoutouts are on at " + coinsName(st.Price) + ": fans can request them from your profile."
		}
	}
	if r.URL.Query().Get("subscription") == "saved" && d.Plan != nil {
		d.Notice = planNotice(d.Plan, r.URL.Query().Get("price") == "changed")
	}
	s.render(w, r, http.StatusOK, "monetization", d)
}

// monetizationData gathers the monetization page for v; cursor picks the
// page of received tips.
func (s *Server) monetizationData(r *http.Request, v *visitor, cursor string) (*monetizationPageData, error) {
	ctx := r.Context()
	list, err := s.profiles.Checklist(ctx, v.User)
	if err != nil {
		return nil, err
	}
	on, err := s.tips.Enabled(ctx, v.User.ID)
	if err != nil {
		return nil, err
	}
	d := &monetizationPageData{
		Layout:     Layout{Title: "Monetization", Nav: "monetization", Visitor: v, CSRF: s.sessionToken(v)},
		Checklist:  list,
		TipsOn:     on,
		ProfileURL: "/creators/" + url.PathEscape(v.User.Handle),
		Coming:     map[string]string{},
		Content:    s.content != nil,
	}
	for _, f := range list {
		if !f.Released {
			d.Coming[f.Feature] = eligibility.NotReleased(f.Feature).Message
		}
		if f.Feature == eligibility.Tips {
			d.TipsOpen = f.Allowed
		}
	}
	if d.Shoutouts, err = s.shoutoutSettings(ctx, v); err != nil {
		return nil, err
	}
	if d.Plan, err = s.planSection(ctx, v, nil, nil); err != nil {
		return nil, err
	}
	page, err := s.tips.Received(ctx, v.User.ID, cursor, receivedPageSize)
	if fanfare.ErrorCode(err) == fanfare.EInvalid {
		// A hand-edited link: show the newest tips and say so.
		cursor = ""
		d.Error = "That page of your tips does not exist; here are the newest ones."
		page, err = s.tips.Received(ctx, v.User.ID, "", receivedPageSize)
	}
	if err != nil {
		return nil, err
	}
	d.Received = page.Tips
	if page.Next != "" {
		d.MoreURL = "/studio/monetization?cursor=" + url.QueryEscape(page.Next) + "#tips-received"
	}
	if cursor != "" {
		d.Paged = true
		d.NewestURL = "/studio/monetization#tips-received"
	}
	return d, nil
}

// setTips turns the visitor's Tips on or off.
func (s *Server) setTips(w http.ResponseWriter, r *http.Request, v *visitor) {
	on, err := strconv.ParseBool(r.PostForm.Get("enabled"))
	if err != nil {
		err = fanfare.Errorf(fanfare.EInvalid, "choose whether Tips are on or off")
	} else {
		_, err = s.tips.SetEnabled(r.Context(), v.actor(), on)
	}
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EInternal {
			s.internalError(w, r, err)
			return
		}
		d, derr := s.monetizationData(r, v, "")
		if derr != nil {
			s.internalError(w, r, derr)
			return
		}
		d.Error = sentence(fanfare.ErrorMessage(err)) + " Nothing was changed."
		s.render(w, r, statusOf(err), "monetization", d)
		return
	}
	state := "off"
	if on {
		state = "on"
	}
	http.Redirect(w, r, "/studio/monetization?tips="+state, http.StatusSeeOther)
}
