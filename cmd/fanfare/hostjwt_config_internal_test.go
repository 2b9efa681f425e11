package main

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHostJWTConfig: the host JWT settings are read from the environment,
// and a setting that cannot work stops the server at start.
func TestHostJWTConfig(t *testing.T) {
	// Not parallel: it sets the environment.
	t.Setenv("FANFARE_JWT_SECRET", "a-host-secret-of-at-least-32-bytes!!")
	t.Setenv("FANFARE_JWT_ISSUER", "https://auth.example")
	t.Setenv("FANFARE_JWT_AUDIENCE", "fanfare")
	t.Setenv("FANFARE_PASSWORD_SIGNUP", "false")
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.serveFlags(fs)
	require.NoError(t, fs.Parse(nil))
	require.False(t, c.PasswordSignUp)
	o, err := c.hostJWT()
	require.NoError(t, err)
	require.Equal(t, "a-host-secret-of-at-least-32-bytes!!", string(o.Secret))
	require.Equal(t, "https://auth.example", o.Issuer)
	require.Equal(t, "fanfare", o.Audience)

	for name, bad := range map[string]Config{
		"short secret":              {JWTSecret: "short"},
		"not a URL":                 {JWTJWKSURL: "ftp://keys.example/jwks.json"},
		"no host":                   {JWTJWKSURL: "https:///jwks.json"},
		"issuer without a verifier": {JWTIssuer: "https://auth.example"},
	} {
		_, err := bad.hostJWT()
		require.Error(t, err, name)
	}
	none, err := (&Config{}).hostJWT()
	require.NoError(t, err)
	require.Nil(t, none.Secret)
	require.Empty(t, none.JWKSURL)

	var d Config
	t.Setenv("FANFARE_PASSWORD_SIGNUP", "")
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	d.serveFlags(fs)
	require.True(t, d.PasswordSignUp, "sign-up is open by default")
}
