package content_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/content"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// post makes a post of actor's with media (nil: none), as the API does:
// the media first, then the post.
func (f *fixture) post(t *testing.T, actor fanfare.Actor, text, teaser string, media []byte) (*content.Post, error) {
	t.Helper()
	ctx := context.Background()
	var m *content.Media
	if media != nil {
		var err error
		if m, err = f.s.UploadMedia(ctx, actor, bytes.NewReader(media), int64(len(media))); err != nil {
			return nil, err
		}
	}
	return f.s.CreatePost(ctx, actor, content.PostInput{Text: text, Teaser: teaser, Media: m})
}

func TestPosts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, content.Options{MaxMedia: 64 << 10})
		img, video := pngImage(t, 16, 16, false), testVideo(t)

		first, err := f.post(t, f.ayla, "  Hello, subscribers!\nBehind the scenes today.  ", "Backstage", nil)
		require.NoError(t, err)
		require.Equal(t, "Hello, subscribers!\nBehind the scenes today.", first.Text)
		require.Nil(t, first.Media)
		f.clock.add(time.Minute)
		photo, err := f.post(t, f.ayla, "The new set.", "A first look", img)
		require.NoError(t, err)
		require.Equal(t, content.Image, photo.Media.Kind)
		require.Equal(t, "image/png", photo.Media.ContentType)
		f.clock.add(time.Minute)
		clip, err := f.post(t, f.ayla, "Rehearsal.", "", video)
		require.NoError(t, err)
		require.Equal(t, content.Video, clip.Media.Kind)
		require.Equal(t, "video/mp4", clip.Media.ContentType)
		require.EqualValues(t, len(video), clip.Media.Size)
		f.requireNoOrphans(t)

		// Who opens them: the creator, the operator, active subscribers.
		stranger := fanfare.Actor{}
		f.members.set(f.sam.UserID, f.ayla.UserID, fanfare.Membership{Active: false, Months: 4})
		for _, who := range []fanfare.Actor{stranger, f.sam, f.brand} {
			pg, err := f.s.Posts(ctx, who, f.ayla.UserID, "", 0)
			require.NoError(t, err)
			require.True(t, pg.Locked)
			require.Len(t, pg.Posts, 3)
			require.Equal(t, []string{clip.ID, photo.ID, first.ID}, []string{pg.Posts[0].ID, pg.Posts[1].ID, pg.Posts[2].ID}, "newest first")
			for _, p := range pg.Posts {
				require.True(t, p.Locked)
				require.Empty(t, p.Text, "a locked post never shows its text")
				if p.Media != nil {
					require.Equal(t, content.Media{Kind: p.Media.Kind}, *p.Media, "only the kind of a locked post's media")
				}
			}
			require.Equal(t, "A first look", pg.Posts[1].Teaser)
			require.Equal(t, content.Image, pg.Posts[1].Media.Kind)
			require.Nil(t, pg.Posts[2].Media)
			_, err = f.s.OpenMedia(ctx, who, photo.ID)
			requireCode(t, err, fanfare.ESubscribersOnly)
			require.Contains(t, fanfare.ErrorMessage(err), "@ayla")
			p, err := f.s.Post(ctx, who, photo.ID)
			require.NoError(t, err)
			require.True(t, p.Locked)
			require.Empty(t, p.Text)
		}
		f.members.set(f.sam.UserID, f.ayla.UserID, fanfare.Membership{Active: true, Months: 5, Badge: 3})
		for _, who := range []fanfare.Actor{f.sam, f.ayla, operator} {
			pg, err := f.s.Posts(ctx, who, f.ayla.UserID, "", 0)
			require.NoError(t, err)
			require.False(t, pg.Locked)
			require.Equal(t, "The new set.", pg.Posts[1].Text)
			require.Equal(t, photo.Media.Key, pg.Posts[1].Media.Key)
			m, err := f.s.OpenMedia(ctx, who, clip.ID)
			require.NoError(t, err)
			require.Equal(t, clip.Media.Key, m.Key)
		}
		_, err = f.s.OpenMedia(ctx, f.sam, first.ID)
		requireCode(t, err, fanfare.ENotFound)
		_, err = f.s.OpenMedia(ctx, f.sam, "nope")
		requireCode(t, err, fanfare.ENotFound)

		// Pages.
		pg, err := f.s.Posts(ctx, f.sam, f.ayla.UserID, "", 2)
		require.NoError(t, err)
		require.Len(t, pg.Posts, 2)
		require.NotEmpty(t, pg.Next)
		pg, err = f.s.Posts(ctx, f.sam, f.ayla.UserID, pg.Next, 2)
		require.NoError(t, err)
		require.Len(t, pg.Posts, 1)
		require.Equal(t, first.ID, pg.Posts[0].ID)
		require.Empty(t, pg.Next)
		_, err = f.s.Posts(ctx, f.sam, f.ayla.UserID, "bogus", 2)
		requireCode(t, err, fanfare.EInvalid)
		_, err = f.s.Posts(ctx, f.sam, f.ayla.UserID, "", 101)
		requireCode(t, err, fanfare.EInvalid)

		// Refusals, each keeping nothing.
		for _, c := range []struct{ text, teaser string }{
			{"", ""}, {"   ", ""}, {strings.Repeat("é", content.MaxText+1), ""},
			{"ok", strings.Repeat("t", content.MaxTeaser+1)}, {"ok", "two\nlines"}, {"bad \x00 byte", ""},
		} {
			_, err := f.post(t, f.ayla, c.text, c.teaser, img)
			requireCode(t, err, fanfare.EInvalid)
		}
		_, err = f.post(t, f.ayla, strings.Repeat("é", content.MaxText), strings.Repeat("t", content.MaxTeaser), nil)
		require.NoError(t, err, "the longest text and teaser")
		_, err = f.post(t, f.ayla, "A text file.", "", []byte("a text file named x.png\n"))
		requireCode(t, err, fanfare.EUnsupportedMedia)
		_, err = f.post(t, f.ayla, "Too big.", "", append(append([]byte{}, video...), make([]byte, 64<<10)...))
		requireCode(t, err, fanfare.ETooLarge)
		_, err = f.post(t, f.brand, "Buy now.", "", img)
		requireCode(t, err, fanfare.ENotEligible)
		var fe *fanfare.Error
		require.ErrorAs(t, err, &fe)
		require.Equal(t, eligibility.RAccountType, fe.Reasons[0].Code)
		_, err = f.post(t, f.brand, "Buy now.", "", nil)
		requireCode(t, err, fanfare.ENotEligible)
		_, err = f.post(t, f.sam, "Hi.", "", nil)
		requireCode(t, err, fanfare.ENotEligible)
		_, err = f.post(t, operator, "Hi.", "", nil)
		requireCode(t, err, fanfare.EForbidden)
		// Media that another creator uploaded is not attached.
		m, err := f.s.UploadMedia(ctx, f.ayla, bytes.NewReader(img), int64(len(img)))
		require.NoError(t, err)
		lea := f.user(t, "lea", "FR", 5_000, fanfare.AccountPersonal)
		_, err = f.s.CreatePost(ctx, lea, content.PostInput{Text: "Mine now.", Media: m})
		requireCode(t, err, fanfare.EInvalid)
		require.NoError(t, f.s.DiscardMedia(ctx, m))
		f.requireNoOrphans(t)

		// Deleting: the creator or the operator; the media goes too.
		requireCode(t, f.s.DeletePost(ctx, f.sam, photo.ID), fanfare.EForbidden)
		requireCode(t, f.s.DeletePost(ctx, stranger, photo.ID), fanfare.EForbidden)
		require.NoError(t, f.s.DeletePost(ctx, f.ayla, photo.ID))
		requireCode(t, f.s.DeletePost(ctx, f.ayla, photo.ID), fanfare.ENotFound)
		_, err = f.s.OpenMedia(ctx, f.sam, photo.ID)
		requireCode(t, err, fanfare.ENotFound)
		ok, err := f.blobs.Exists(ctx, photo.Media.Key)
		require.NoError(t, err)
		require.False(t, ok, "the deleted post's media is gone")
		require.NoError(t, f.s.DeletePost(ctx, operator, clip.ID))
		f.requireNoOrphans(t)
		pg, err = f.s.Posts(ctx, f.ayla, f.ayla.UserID, "", 0)
		require.NoError(t, err)
		require.Len(t, pg.Posts, 2)
	})
}
