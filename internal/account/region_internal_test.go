package account

import "testing"

func TestRegionList(t *testing.T) {
	t.Parallel()
	// ISO 3166-1 assigns 249 alpha-2 codes.
	if len(regions) != 249 {
		t.Fatalf("len(regions) = %d, want 249", len(regions))
	}
	for c := range regions {
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			t.Errorf("bad region code %q", c)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := hashPassword("fanfare-demo")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashPassword("fanfare-demo")
	if h == h2 {
		t.Fatal("two hashes of one password are equal; the salt is not random")
	}
	if ok, err := checkPassword(h, "fanfare-demo"); !ok || err != nil {
		t.Fatalf("checkPassword(right) = %v, %v", ok, err)
	}
	if ok, err := checkPassword(h, "fanfare-demO"); ok || err != nil {
		t.Fatalf("checkPassword(wrong) = %v, %v", ok, err)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", h + "$"} {
		if _, err := checkPassword(bad, "x"); err == nil {
			t.Errorf("checkPassword(%q) accepted a malformed hash", bad)
		}
	}
}
