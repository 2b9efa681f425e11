package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
)

// walletsPageData is the operator's wallet console: look a user up by
// handle, see their wallet and whether it is frozen, freeze it with a
// reason or lift the freeze.
type walletsPageData struct {
	Layout
	Query string // the handle looked up, as typed
	// Found is the user looked up (nil: none yet, or not found).
	Found *walletUser
	// Reason is what the operator typed when a freeze or lift was refused.
	Reason string
}

// walletUser is a user's wallet as the console shows it.
type walletUser struct {
	Handle, DisplayName string
	Coins, Diamonds     fanfare.Amount
	// Frozen: the wallet cannot spend (an operator's freeze, or a balance
	// below zero after a clawback).
	Frozen bool
	// Freeze is the operator's freeze: why, by whom, since when.
	FreezeReason string
	FrozenBy     string
	FrozenAt     time.Time
	Negative     bool
}

func (s *Server) walletsPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	q := strings.TrimPrefix(strings.TrimSpace(r.URL.Query().Get("user")), "@")
	d, status, err := s.walletsData(r, v, q)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "frozen":
		d.Notice = "Froze the wallet of @" + q + ": it cannot spend until you lift the freeze."
	case "lifted":
		d.Notice = "Lifted the freeze of @" + q + "'s wallet."
	}
	s.render(w, r, status, "ops_wallets", d)
}

// walletsData gathers the console for handle (empty: the lookup form
// alone) and the status to answer with: 404 when no user has the handle.
func (s *Server) walletsData(r *http.Request, v *visitor, handle string) (*walletsPageData, int, error) {
	ctx := r.Context()
	d := &walletsPageData{Layout: Layout{Title: "Wallets", Nav: "ops-wallets", Visitor: v, CSRF: s.sessionToken(v)}, Query: handle}
	if handle == "" {
		return d, http.StatusOK, nil
	}
	u, err := s.accounts.ByHandle(ctx, handle)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		d.Error = "No user has the handle @" + handle + "."
		return d, http.StatusNotFound, nil
	} else if err != nil {
		return nil, 0, err
	}
	wl, err := s.wallet.Wallet(ctx, u.ID)
	if err != nil {
		return nil, 0, err
	}
	f, err := s.wallet.FreezeOf(ctx, u.ID)
	if err != nil {
		return nil, 0, err
	}
	d.Query = u.Handle
	d.Found = &walletUser{Handle: u.Handle, DisplayName: u.DisplayName, Coins: wl.Coins, Diamonds: wl.Diamonds,
		Frozen: wl.Frozen, Negative: wl.Coins < 0}
	if f != nil {
		d.Found.FreezeReason, d.Found.FrozenAt = f.Reason, f.FrozenAt
		if d.Found.FrozenBy, err = s.actorName(ctx, map[string]string{}, f.Actor); err != nil {
			return nil, 0, err
		}
	}
	return d, http.StatusOK, nil
}

// freezeWallet freezes ("freeze") or lifts ("unfreeze") the freeze of a
// user's wallet, with the form's reason.
func (s *Server) freezeWallet(w http.ResponseWriter, r *http.Request, v *visitor) {
	ctx := r.Context()
	handle, action := r.PathValue("handle"), r.PathValue("action")
	u, err := s.accounts.ByHandle(ctx, handle)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		s.errorPage(w, r, http.StatusNotFound, "User not found", "No user has this handle. Nothing was changed.")
		return
	} else if err != nil {
		s.internalError(w, r, err)
		return
	}
	reason := r.PostForm.Get("reason")
	done := "frozen"
	switch action {
	case "freeze":
		_, err = s.wallet.Freeze(ctx, v.actor(), u.ID, reason)
	case "unfreeze":
		done = "lifted"
		err = s.wallet.Unfreeze(ctx, v.actor(), u.ID, reason)
	default:
		s.notFound(w, r)
		return
	}
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EInternal {
			s.internalError(w, r, err)
			return
		}
		d, _, derr := s.walletsData(r, v, u.Handle)
		if derr != nil {
			s.internalError(w, r, derr)
			return
		}
		d.Reason = reason
		d.Error = sentence(fanfare.ErrorMessage(err)) + " Nothing was changed."
		s.render(w, r, statusOf(err), "ops_wallets", d)
		return
	}
	http.Redirect(w, r, "/ops/wallets?user="+url.QueryEscape(u.Handle)+"&done="+done, http.StatusSeeOther)
}
