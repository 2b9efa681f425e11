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
	h, err := hashPassword("fanfare-demo", DefaultHashCost)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashPassword("fanfare-demo", DefaultHashCost)
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

// A hash made at one cost is checked at that cost, whatever the cost of new
// hashes is now: changing it locks nobody out.
func TestPasswordHashCost(t *testing.T) {
	t.Parallel()
	cheap := HashCost{Memory: 64, Time: 1}
	h, err := hashPassword("fanfare-demo", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=64,t=1,p=1$"; h[:len(want)] != want {
		t.Fatalf("hash = %q, want the prefix %q", h, want)
	}
	if ok, err := checkPassword(h, "fanfare-demo"); !ok || err != nil {
		t.Fatalf("checkPassword(right) = %v, %v", ok, err)
	}
	if ok, _ := checkPassword(h, "fanfare-demO"); ok {
		t.Fatal("checkPassword(wrong) = true")
	}
	for c, want := range map[HashCost]bool{DefaultHashCost: true, cheap: true, MinHashCost: true,
		{Memory: 7, Time: 1}: false, {Memory: 64, Time: 0}: false, {Memory: 5 << 20, Time: 1}: false} {
		if c.Valid() != want {
			t.Errorf("%+v.Valid() = %v, want %v", c, !want, want)
		}
	}
	if DefaultHashCost.Below() || !cheap.Below() || !(HashCost{Memory: 19456, Time: 1}).Below() {
		t.Error("Below is wrong")
	}
}
