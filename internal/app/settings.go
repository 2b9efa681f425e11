package app

import (
	"errors"
	"maps"
	"slices"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/settings"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/subscription"
)

// envSettings is the settings document of what the services were built
// with: the environment's and the flags' values, defaults filled in. It
// is stored at the first start.
func (a *App) envSettings() settings.Settings {
	var s settings.Settings
	cat := a.Wallet.Catalog()
	for _, cur := range cat.Currencies() {
		l, _ := cat.List(cur)
		pl := settings.ConfigPackList{Currency: cur, ReferenceRate: int64(l.ReferenceRate)}
		for _, p := range l.Packs {
			pl.Packs = append(pl.Packs, settings.ConfigPackPrice{Coins: int64(p.Coins), Price: int64(p.Price)})
		}
		s.Packs = append(s.Packs, pl)
	}
	lim := a.Wallet.Limits()
	s.Limits = settings.ConfigLimits{DailySpendCoins: int64(lim.DailySpend), PurchasesPerHour: int64(lim.PurchasesPerHour),
		PurchaseDaily: lim.PurchaseDaily.String(), MinorPurchaseDaily: lim.MinorPurchaseDaily.String()}
	tmin, tmax := a.Tips.Limits()
	s.Tips = settings.ConfigTips{MinCoins: int64(tmin), MaxCoins: int64(tmax)}
	so, sub, po := a.Shoutouts.Terms(), a.Subscriptions.Terms(), a.Payouts.Terms()
	s.Shares = settings.ConfigShares{GiftsBPS: a.Live.GiftShare(), TipsBPS: a.Tips.ShareBPS(), ShoutoutsBPS: so.ShareBPS, SubscriptionsBPS: sub.ShareBPS}
	s.Shoutouts = settings.ConfigShoutouts{AcceptWindow: settings.FormatDuration(so.AcceptWindow), DeliveryWindow: settings.FormatDuration(so.DeliveryWindow),
		MinPrice: int64(so.MinPrice), MaxPrice: int64(so.MaxPrice)}
	s.Subscriptions = settings.ConfigSubscriptions{MinPrice: int64(sub.MinPrice), MaxPrice: int64(sub.MaxPrice), Grace: settings.FormatDuration(sub.Grace)}
	s.Payouts = settings.ConfigPayouts{Rates: map[string]string{}, MinDiamonds: int64(po.Min), DailyMaxDiamonds: int64(po.DailyMax),
		Hold: settings.FormatDuration(po.Hold)}
	for _, cur := range slices.Sorted(maps.Keys(po.Rates)) {
		s.Payouts.Rates[cur] = po.Rates[cur].Amount()
	}
	return s
}

// applySettings puts a valid settings document in force on the services.
func (a *App) applySettings(s settings.Settings) error {
	cat, err := s.Catalog()
	if err != nil {
		return err
	}
	lim, err := s.WalletLimits()
	if err != nil {
		return err
	}
	if err := lim.Check(cat); err != nil {
		return err
	}
	rates, err := s.PayoutRates()
	if err != nil {
		return err
	}
	a.Wallet.SetCatalog(cat)
	return errors.Join(
		a.Wallet.SetLimits(lim),
		a.Live.SetGiftShare(s.Shares.GiftsBPS),
		a.Tips.SetTerms(fanfare.Amount(s.Tips.MinCoins), fanfare.Amount(s.Tips.MaxCoins), s.Shares.TipsBPS),
		a.Shoutouts.SetTerms(shoutoutTerms(s)),
		a.Subscriptions.SetTerms(subscriptionTerms(s)),
		a.Payouts.SetTerms(payoutTerms(s, rates)),
	)
}

func shoutoutTerms(s settings.Settings) shoutout.Terms {
	return shoutout.Terms{AcceptWindow: settings.Duration(s.Shoutouts.AcceptWindow), DeliveryWindow: settings.Duration(s.Shoutouts.DeliveryWindow),
		ShareBPS: s.Shares.ShoutoutsBPS, MinPrice: fanfare.Amount(s.Shoutouts.MinPrice), MaxPrice: fanfare.Amount(s.Shoutouts.MaxPrice)}
}

func subscriptionTerms(s settings.Settings) subscription.Terms {
	return subscription.Terms{Grace: settings.Duration(s.Subscriptions.Grace), ShareBPS: s.Shares.SubscriptionsBPS,
		MinPrice: fanfare.Amount(s.Subscriptions.MinPrice), MaxPrice: fanfare.Amount(s.Subscriptions.MaxPrice)}
}

func payoutTerms(s settings.Settings, rates payout.Rates) payout.Terms {
	return payout.Terms{Rates: rates, Hold: settings.Duration(s.Payouts.Hold), Min: fanfare.Amount(s.Payouts.MinDiamonds),
		DailyMax: fanfare.Amount(s.Payouts.DailyMaxDiamonds)}
}
