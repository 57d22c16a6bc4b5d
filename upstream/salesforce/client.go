// Package salesforce is tether's Salesforce provider: an upstream.Provider
// over the Salesforce REST API (describe, SOQL query/queryAll, getDeleted and
// sObject Collections), authenticated with the OAuth2 refresh-token flow.
//
// Every API request passes through the shared rate limiter (reads at Read
// priority, writes at Write priority), reports the org's daily usage from the
// Sforce-Limit-Info header to the limiter and the metrics, and is classified
// into an *upstream.Error on failure. Secrets (refresh token, client secret,
// access token) never appear in errors or logs.
package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/metrics"
	"github.com/tether-sync/tether/internal/ratelimit"
	"github.com/tether-sync/tether/upstream"
)

// Defaults.
const (
	DefaultLoginURL     = "https://login.salesforce.com"
	DefaultAPIVersion   = "62.0"
	DefaultQuotaBackoff = time.Minute
	// MaxBatch is the most records one sObject Collections request carries.
	MaxBatch = 200
)

// Config configures a Client. LoginURL, ClientID, ClientSecret and
// RefreshToken are the credential; the rest have defaults.
type Config struct {
	LoginURL     string // default https://login.salesforce.com
	ClientID     string
	ClientSecret string
	RefreshToken string
	APIVersion   string // default "62.0"

	// Limiter is the shared rate limiter; nil: an unlimited one (still
	// enforcing the daily ceiling).
	Limiter *ratelimit.Limiter
	// DailyLimitShare (0..1] is the share of the org's daily API limit reads
	// may use; 0 leaves the limiter's share (default 0.9).
	DailyLimitShare float64

	HTTPClient *http.Client // default: a client with RequestTimeout
	Logger     zerolog.Logger
	Metrics    *metrics.Metrics
	Health     health.Reporter // default health.Nop{}

	// RequestTimeout bounds one HTTP exchange when HTTPClient is nil; default 2 min.
	RequestTimeout time.Duration
	// QuotaBackoff is how long the limiter pauses after REQUEST_LIMIT_EXCEEDED; default 1 min.
	QuotaBackoff time.Duration
	// RetryInitial, RetryMax and RetryMaxElapsed shape the exponential
	// back-off of transient failures: first interval (default 500ms), cap
	// (default 30s) and total time before giving up (default 2 min; negative: no retries).
	RetryInitial    time.Duration
	RetryMax        time.Duration
	RetryMaxElapsed time.Duration
}

// Client is a Salesforce provider. It implements upstream.Provider and is
// safe for concurrent use.
type Client struct {
	cfg     Config
	oauth   oauth2.Config
	http    *http.Client
	limiter *ratelimit.Limiter
	log     zerolog.Logger
	metrics *metrics.Metrics
	health  health.Reporter

	tokMu        sync.Mutex
	tok          *oauth2.Token
	refreshToken string
	instanceURL  string
	userID       string

	healthMu sync.Mutex
	reported map[string]health.Status

	usageMu   sync.Mutex
	usedToday int
	maxToday  int

	descMu sync.Mutex
	desc   map[string]*upstream.Object
}

var _ upstream.Provider = (*Client)(nil)

// New builds a client and authenticates once (refreshing an access token),
// so a broken credential is reported at start. An invalid_grant answer is
// an *upstream.Error of class Auth.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.LoginURL == "" {
		cfg.LoginURL = DefaultLoginURL
	}
	cfg.LoginURL = strings.TrimRight(cfg.LoginURL, "/")
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	cfg.APIVersion = strings.TrimPrefix(cfg.APIVersion, "v")
	if cfg.ClientID == "" || cfg.RefreshToken == "" {
		return nil, errors.New("salesforce: client id and refresh token are required")
	}
	if cfg.QuotaBackoff <= 0 {
		cfg.QuotaBackoff = DefaultQuotaBackoff
	}
	if cfg.RetryInitial <= 0 {
		cfg.RetryInitial = 500 * time.Millisecond
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 30 * time.Second
	}
	if cfg.RetryMaxElapsed == 0 {
		cfg.RetryMaxElapsed = 2 * time.Minute
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 2 * time.Minute
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.RequestTimeout}
	}
	lim := cfg.Limiter
	if lim == nil {
		lim = ratelimit.New(ratelimit.Config{})
	}
	if cfg.DailyLimitShare > 0 {
		lim.SetDailyShare(cfg.DailyLimitShare)
	}
	rep := cfg.Health
	if rep == nil {
		rep = health.Nop{}
	}
	c := &Client{
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{
				TokenURL:  cfg.LoginURL + "/services/oauth2/token",
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
		http:         hc,
		limiter:      lim,
		log:          cfg.Logger.With().Str("component", "salesforce").Logger(),
		metrics:      cfg.Metrics,
		health:       rep,
		refreshToken: cfg.RefreshToken,
		reported:     map[string]health.Status{},
		desc:         map[string]*upstream.Object{},
	}
	if _, err := c.accessToken(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Name implements upstream.Provider.
func (c *Client) Name() string { return "salesforce" }

// MaxBatch implements upstream.Provider: sObject Collections take 200 records.
func (c *Client) MaxBatch() int { return MaxBatch }

// Usage returns the org's daily API usage as last reported by Salesforce
// (Sforce-Limit-Info), zeros before the first response.
func (c *Client) Usage() (used, max int) {
	c.usageMu.Lock()
	defer c.usageMu.Unlock()
	return c.usedToday, c.maxToday
}

// Limiter returns the rate limiter the client uses.
func (c *Client) Limiter() *ratelimit.Limiter { return c.limiter }

// InstanceURL returns the instance URL from the last token response.
func (c *Client) InstanceURL() string {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	return c.instanceURL
}

// report sends a health status when it differs from the last one sent.
func (c *Client) report(ctx context.Context, component string, st health.Status, msg string) {
	c.healthMu.Lock()
	prev, ok := c.reported[component]
	c.reported[component] = st
	c.healthMu.Unlock()
	if ok && prev == st && st == health.Healthy {
		return
	}
	c.health.Report(context.WithoutCancel(ctx), component, st, msg)
}

// accessToken returns the current access token, refreshing it if there is none.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.tok != nil {
		return c.tok.AccessToken, nil
	}
	return c.refreshLocked(ctx)
}

// invalidate drops the access token if it is still the one that failed.
func (c *Client) invalidate(token string) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.tok != nil && c.tok.AccessToken == token {
		c.tok = nil
	}
}

func (c *Client) refreshLocked(ctx context.Context) (string, error) {
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.http)
	src := c.oauth.TokenSource(hctx, &oauth2.Token{RefreshToken: c.refreshToken})
	tok, err := src.Token()
	if err != nil {
		e := c.tokenError(err)
		if e.Class == upstream.Auth {
			c.report(ctx, health.Credential, health.CustomerIntervention,
				"Salesforce refused the refresh token ("+e.Code+"): re-authorise tether's connected app and update the refresh token")
		}
		c.log.Warn().Str("class", e.Class.String()).Str("code", e.Code).Msg("token refresh failed")
		return "", e
	}
	c.tok = tok
	if tok.RefreshToken != "" {
		c.refreshToken = tok.RefreshToken // Salesforce may rotate it
	}
	if s, _ := tok.Extra("instance_url").(string); s != "" {
		c.instanceURL = strings.TrimRight(s, "/")
	} else if c.instanceURL == "" {
		c.instanceURL = c.cfg.LoginURL
	}
	if s, _ := tok.Extra("id").(string); s != "" {
		if i := strings.LastIndex(strings.TrimRight(s, "/"), "/"); i >= 0 {
			c.userID = strings.TrimRight(s, "/")[i+1:]
		}
	}
	c.metrics.Request("token", http.MethodPost, "200")
	c.log.Debug().Msg("access token refreshed")
	c.report(ctx, health.Credential, health.Healthy, "")
	return tok.AccessToken, nil
}

// tokenError classifies a failed refresh without repeating any secret.
func (c *Client) tokenError(err error) *upstream.Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		c.metrics.Request("token", http.MethodPost, fmt.Sprint(status))
		code, desc := re.ErrorCode, re.ErrorDescription
		if code == "" {
			code, desc = parseOAuthError(re.Body)
		}
		e := &upstream.Error{Status: status, Code: code, Message: redact(desc, c.secrets()...)}
		switch {
		case status >= 500 || status == http.StatusTooManyRequests:
			e.Class = upstream.Transient
		case code == "invalid_grant" || code == "invalid_client" || code == "invalid_client_id" ||
			code == "unauthorized_client" || status == http.StatusBadRequest || status == http.StatusUnauthorized:
			e.Class = upstream.Auth
		default:
			e.Class = upstream.Permanent
		}
		if e.Message == "" {
			e.Message = "token refresh failed"
		} else {
			e.Message = "token refresh failed: " + e.Message
		}
		return e
	}
	c.metrics.Request("token", http.MethodPost, "error")
	return &upstream.Error{Class: upstream.Transient, Message: "token refresh failed", Err: redactErr(err, c.secrets()...)}
}

// secrets lists the values that must never be printed.
func (c *Client) secrets() []string {
	s := []string{c.cfg.ClientSecret, c.cfg.RefreshToken, c.refreshToken}
	if c.tok != nil {
		s = append(s, c.tok.AccessToken)
	}
	return s
}

// call is one API request.
type call struct {
	endpoint string // metrics label: "query", "describe", "composite", ...
	method   string
	path     string // absolute path on the instance ("/services/data/v62.0/...")
	header   http.Header
	body     []byte
	prio     ratelimit.Priority
	create   bool // a non-idempotent create: retried only if surely not sent
	noRetry  bool
	// composite: the body is a /composite request of one GET subrequest,
	// whose answer exchange returns as the response.
	composite bool
}

// response is a completed exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// dataPath returns the REST path for a resource under /services/data/vXX.X.
func (c *Client) dataPath(resource string) string {
	return "/services/data/v" + c.cfg.APIVersion + resource
}

// newBackoff returns the retry policy for transient failures.
func (c *Client) newBackoff(ctx context.Context) backoff.BackOff {
	if c.cfg.RetryMaxElapsed < 0 {
		return backoff.WithContext(&backoff.StopBackOff{}, ctx)
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = c.cfg.RetryInitial
	b.MaxInterval = c.cfg.RetryMax
	b.MaxElapsedTime = c.cfg.RetryMaxElapsed
	b.Reset()
	return backoff.WithContext(b, ctx)
}

// do sends a call with retries on transient failures and returns a 2xx
// response or an *upstream.Error.
func (c *Client) do(ctx context.Context, cl call) (*response, error) {
	var out *response
	attempt := 0
	op := func() error {
		attempt++
		resp, err := c.send(ctx, cl)
		if err == nil {
			out = resp
			return nil
		}
		var ue *upstream.Error
		if !errors.As(err, &ue) || ue.Class != upstream.Transient || cl.noRetry || ue.Code == upstream.CodeUnknownOutcome {
			return backoff.Permanent(err)
		}
		if ctx.Err() != nil {
			return backoff.Permanent(err)
		}
		return err
	}
	notify := func(err error, d time.Duration) {
		c.log.Info().Str("endpoint", cl.endpoint).Str("method", cl.method).Int("attempt", attempt).
			Dur("retry_in", d).Str("error", err.Error()).Msg("transient failure, retrying")
	}
	if err := backoff.RetryNotify(op, c.newBackoff(ctx), notify); err != nil {
		var ue *upstream.Error
		if errors.As(err, &ue) {
			return nil, err
		}
		// The context ended while waiting between attempts.
		return nil, &upstream.Error{Class: upstream.Transient, Message: cl.method + " " + cl.endpoint, Err: err}
	}
	return out, nil
}

// send performs one exchange, refreshing the access token and retrying once
// on 401 INVALID_SESSION_ID.
func (c *Client) send(ctx context.Context, cl call) (*response, error) {
	for try := 0; ; try++ {
		token, err := c.accessToken(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.exchange(ctx, cl, token)
		if err != nil {
			return nil, err
		}
		if resp.status >= 200 && resp.status < 300 {
			c.report(ctx, health.API, health.Healthy, "")
			return resp, nil
		}
		e := classify(resp.status, resp.body)
		if resp.status == http.StatusUnauthorized {
			c.invalidate(token)
			if try == 0 {
				c.log.Debug().Str("endpoint", cl.endpoint).Msg("session expired, refreshing the access token")
				continue
			}
			e.Class = upstream.Auth
			c.report(ctx, health.Credential, health.CustomerIntervention,
				"Salesforce rejected a freshly refreshed session ("+e.Code+"): check the connected app and the user's API access, then re-authorise")
		}
		if e.Class == upstream.Quota {
			c.limiter.PauseUntil(time.Now().Add(c.cfg.QuotaBackoff))
			c.report(ctx, health.API, health.CustomerIntervention,
				"Salesforce's daily API request limit is exhausted (REQUEST_LIMIT_EXCEEDED); tether waits and retries, or raise the org's limit")
			c.log.Warn().Dur("pause", c.cfg.QuotaBackoff).Msg("API limit exceeded, pausing requests")
		}
		e.Message = redact(e.Message, c.secrets()...)
		return nil, e
	}
}

// ReserveWrite implements upstream.WriteReserver with the shared limiter.
func (c *Client) ReserveWrite(ctx context.Context) (context.Context, func(), error) {
	g, err := c.limiter.Reserve(ctx, ratelimit.Write)
	if err != nil {
		return ctx, func() {}, err
	}
	return ratelimit.WithGrant(ctx, g), g.Cancel, nil
}

// exchange sends one HTTP request through the limiter and reads the answer.
func (c *Client) exchange(ctx context.Context, cl call, token string) (*response, error) {
	began := time.Now()
	release, err := c.limiter.Acquire(ctx, cl.prio)
	if err != nil {
		return nil, &upstream.Error{Class: upstream.Transient, Message: "waiting for the rate limiter", Err: err}
	}
	defer release()
	c.metrics.Waited(time.Since(began).Seconds())

	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	c.tokMu.Lock()
	base := c.instanceURL
	c.tokMu.Unlock()
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), cl.method, base+cl.path, body)
	if err != nil {
		return nil, &upstream.Error{Class: upstream.Permanent, Message: "build request " + cl.endpoint, Err: err}
	}
	for k, v := range cl.header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.metrics.Request(cl.endpoint, cl.method, "error")
		return nil, c.networkError(ctx, cl, wrote.Load(), err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		c.metrics.Request(cl.endpoint, cl.method, "error")
		return nil, c.networkError(ctx, cl, true, err)
	}
	c.metrics.Request(cl.endpoint, cl.method, fmt.Sprint(res.StatusCode))
	c.log.Debug().Str("endpoint", cl.endpoint).Str("method", cl.method).Int("status", res.StatusCode).
		Dur("took", time.Since(began)).Msg("api request")
	if used, max, ok := ParseLimitInfo(res.Header.Get("Sforce-Limit-Info")); ok {
		c.usageMu.Lock()
		c.usedToday, c.maxToday = used, max
		c.usageMu.Unlock()
		c.limiter.SetDailyUsage(used, max)
		c.metrics.Usage(used, max)
	}
	out := &response{status: res.StatusCode, header: res.Header, body: data}
	if cl.composite && out.status == http.StatusOK {
		// One subrequest: answer as if it had been sent alone.
		var cr struct {
			Responses []struct {
				Body   json.RawMessage `json:"body"`
				Status int             `json:"httpStatusCode"`
			} `json:"compositeResponse"`
		}
		if err := json.Unmarshal(data, &cr); err != nil || len(cr.Responses) != 1 {
			return nil, &upstream.Error{Class: upstream.Transient, Status: out.status, Message: "unreadable composite response"}
		}
		out.status, out.body = cr.Responses[0].Status, cr.Responses[0].Body
	}
	return out, nil
}

// networkError classifies a failed exchange. A create whose request was
// written may have been applied: its outcome is unknown.
func (c *Client) networkError(ctx context.Context, cl call, sent bool, err error) error {
	err = redactErr(err, c.secrets()...)
	if ctx.Err() != nil && !sent {
		return &upstream.Error{Class: upstream.Transient, Message: cl.method + " " + cl.endpoint + " cancelled", Err: err}
	}
	if cl.create && sent && !surelyNotSent(err) {
		return &upstream.Error{Class: upstream.Transient, Code: upstream.CodeUnknownOutcome,
			Message: "the create request was sent but its answer was lost: it may have been applied", Err: err}
	}
	return &upstream.Error{Class: upstream.Transient, Message: cl.method + " " + cl.endpoint + " failed", Err: err}
}
