package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
)

// The contract of the API beyond what huma derives from the Go types: the
// names of its schemas, non-null arrays, and the problem codes each
// operation may answer with. The tests hold the server to it: every
// problem a test meets must be declared for its operation (see
// undeclaredProblem), and clients generated from the document must compile
// and run.

// schemaName names the schemas of the OpenAPI document, with one rule for
// all of them: a schema is named after what it is, never after an
// operation or a transport wrapper, so that no client generator's own names
// collide with it (oapi-codegen makes <OpId>Params, <OpId>JSONBody,
// <OpId>JSONRequestBody and <OpId>Response for each operation):
//
//   - the Go type's name (huma's name hint for an anonymous type),
//     capitalized;
//   - a request body, whose name ends in InputBody (the Body of an
//     ...Input) or in Request (huma's hint for an anonymous input), ends in
//     Request: signUpInput's Body is SignUpRequest;
//   - an answer's body drops the transport words OutputBody or Body:
//     walletOutput's Body is Wallet, liveBody is Live; an anonymous answer,
//     which huma hints as <opId>Response, is <OpId>Result;
//   - any other type keeps its name (Gift, Problem, Reason).
func schemaName(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	for _, r := range []struct{ suffix, with string }{
		{"InputBody", "Request"},
		{"OutputBody", ""},
		{"Response", "Result"},
		{"Body", ""},
	} {
		if base, ok := strings.CutSuffix(name, r.suffix); ok && base != "" {
			return base + r.with
		}
	}
	return name
}

func init() {
	// A Go slice is answered [] (see emptySlices), never null: arrays are
	// declared non-null.
	huma.DefaultArrayNullable = false
}

// emptySlices sets the nil slices of an answer's body to empty ones, so
// that they are answered [] rather than null, as the document declares.
// It changes only what the handler's output struct holds by value (the
// body's fields and the fields of the structs it holds by value), never
// what it reaches through a pointer or a slice, which a handler may share
// with other requests; such a nil slice is left for the tests to find.
func emptySlices(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				emptySlices(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() && v.CanSet() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
	}
}

// outputBody returns the Body field of a handler's output, or an invalid
// Value.
func outputBody(out any) reflect.Value {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.Elem().FieldByName("Body")
}

// nilSlicePath returns where v holds a nil slice, at any depth ("" when it
// holds none): the tests' check of answers that emptySlices cannot mend.
func nilSlicePath(v reflect.Value, path string, depth int) string {
	if depth > 16 || !v.IsValid() {
		return ""
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return nilSlicePath(v.Elem(), path, depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if p := nilSlicePath(v.Field(i), path+"."+name, depth+1); p != "" {
				return p
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			if v.Type().Elem().Kind() == reflect.Uint8 {
				return "" // []byte is a string
			}
			return path
		}
		for i := range v.Len() {
			if p := nilSlicePath(v.Index(i), path+"["+strconv.Itoa(i)+"]", depth+1); p != "" {
				return p
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if p := nilSlicePath(it.Value(), path+"."+fmt.Sprint(it.Key()), depth+1); p != "" {
				return p
			}
		}
	}
	return ""
}

// problemCodes declares, for each operation, the problem codes its handler
// may answer with beyond those its kind brings (see commonCodes). The
// document lists them per response status (x-problem-codes), and the
// server reports any other code an operation answers with as a broken
// contract (see undeclaredProblem).
var problemCodes = map[string][]string{
	"healthz":                {},
	"readyz":                 {fanfare.EUnavailable},
	"signUp":                 {fanfare.EConflict, fanfare.ERateLimited, fanfare.EUnavailable, fanfare.EForbidden},
	"upsertUserByExternalID": {fanfare.EConflict},
	"userByExternalID":       {fanfare.ENotFound},
	"mintSession":            {fanfare.ENotFound},
	"createAPIKey":           {},
	"apiKeys":                {},
	"revokeAPIKey":           {fanfare.ENotFound},
	"login":                  {fanfare.EUnauthorized, fanfare.ERateLimited, fanfare.EUnavailable},
	"logout":                 {},
	"me":                     {},
	"updateUser":             {fanfare.ENotFound, fanfare.EConflict},
	"grantCoins":             {fanfare.ENotFound, fanfare.EIdempotencyKeyRequired, fanfare.EIdempotencyConflict, fanfare.EWalletFrozen, fanfare.EUnavailable},
	"myWallet":               {},
	"mySpendLimit":           {},
	"setMySpendLimit":        {},
	"getConfig":              {},
	"putConfig":              {fanfare.EInvalid, fanfare.EConflict},
	"freezeWallet":           {fanfare.ENotFound, fanfare.EConflict},
	"unfreezeWallet":         {fanfare.ENotFound, fanfare.EConflict},
	"coinPacks":              {},
	// The outgoing webhooks' endpoints (validation_failed is common to
	// every operation with input).
	"createWebhookEndpoint": {},
	"listWebhookEndpoints":  {},
	"getWebhookEndpoint":    {fanfare.ENotFound},
	"updateWebhookEndpoint": {fanfare.ENotFound},
	"rotateWebhookSecret":   {fanfare.ENotFound},
	"deleteWebhookEndpoint": {fanfare.ENotFound},
	"listWebhookDeliveries": {fanfare.ENotFound},
	"replayWebhookDelivery": {fanfare.ENotFound},
	"buyCoins": {fanfare.EIdempotencyKeyRequired, fanfare.EIdempotencyConflict, fanfare.EPaymentDeclined,
		fanfare.ENotEligible, fanfare.EWalletFrozen, fanfare.EPurchaseLimit, fanfare.EUnavailable},
	"refundPurchase": {fanfare.ENotFound, fanfare.EIdempotencyKeyRequired, fanfare.EIdempotencyConflict, fanfare.EInvalidState, fanfare.EDeadlinePassed,
		fanfare.EInsufficientFunds, fanfare.EWalletFrozen, fanfare.EUnavailable},
	"stripeWebhook":  {fanfare.ESignatureInvalid, fanfare.ENotFound, fanfare.EUnavailable},
	"myTransactions": {},
	"listGifts":      {},
	"listLives":      {},
	"startLive":      {fanfare.ENotEligible, fanfare.ERegionBlocked, fanfare.EConflict},
	"getLive":        {fanfare.ENotFound},
	"endLive":        {fanfare.ENotFound, fanfare.EInvalidState},
	"sendGift": {fanfare.ENotFound, fanfare.EIdempotencyKeyRequired, fanfare.EIdempotencyConflict, fanfare.EInvalidState,
		fanfare.ENotEligible, fanfare.ERegionBlocked, fanfare.EInsufficientFunds, fanfare.EWalletFrozen, fanfare.ESpendLimit, fanfare.EUnavailable},
	"liveLeaderboard":      {fanfare.ENotFound},
	"myEarnings":           {},
	"mySupporters":         {},
	"mySupportersCSV":      {},
	"auditLog":             {},
	"auditLogCSV":          {},
	"chat":                 {fanfare.ENotFound, fanfare.EInvalidState, fanfare.ERateLimited, fanfare.ESubscribersOnly, fanfare.EUnavailable},
	"setChatMode":          {fanfare.ENotFound, fanfare.EInvalidState},
	"muteViewer":           {fanfare.ENotFound},
	"liveSummary":          {fanfare.ENotFound},
	"weeklyLeaderboard":    {},
	"creatorWeeklyGifters": {fanfare.ENotFound},
	"creatorProfile":       {fanfare.ENotFound},
	"myEligibility":        {},
	"myTipSettings":        {},
	"setMyTipSettings":     {fanfare.ENotEligible, fanfare.ERegionBlocked},
	"sendTip": {fanfare.ENotFound, fanfare.EIdempotencyKeyRequired, fanfare.EIdempotencyConflict,
		fanfare.ENotEligible, fanfare.ERegionBlocked, fanfare.EInsufficientFunds, fanfare.EWalletFrozen, fanfare.ESpendLimit, fanfare.EUnavailable},
	"myTipsReceived":      {},
	"myTipsSent":          {},
	"eligibilityRules":    {},
	"setEligibilityRule":  {fanfare.ENotFound},
	"myShoutoutSettings":  {},
	"setShoutoutSettings": {},
	"requestShoutout": {fanfare.ENotFound, fanfare.EIdempotencyKeyRequired, fanfare.EIdempotencyConflict,
		fanfare.ENotEligible, fanfare.ERegionBlocked, fanfare.EPaused, fanfare.ECapacityFull, fanfare.EConflict,
		fanfare.EInsufficientFunds, fanfare.EWalletFrozen, fanfare.ESpendLimit, fanfare.EUnavailable},
	"myShoutouts":              {},
	"adminShoutouts":           {},
	"getShoutout":              {fanfare.ENotFound},
	"acceptShoutout":           shoutoutCodes,
	"cancelShoutout":           shoutoutCodes,
	"declineShoutout":          shoutoutCodes,
	"approveShoutout":          shoutoutCodes,
	"rejectShoutout":           shoutoutCodes,
	"askShoutoutExtension":     shoutoutCodes,
	"acceptShoutoutExtension":  shoutoutCodes,
	"declineShoutoutExtension": shoutoutCodes,
	"disputeShoutout":          shoutoutCodes,
	"resolveShoutout":          shoutoutCodes,
	"setShoutoutPublic":        {fanfare.ENotFound},
	"reviewShoutout":           {fanfare.ENotFound, fanfare.EInvalidState, fanfare.EDeadlinePassed},
	"creatorReviews":           {fanfare.ENotFound},
	"creatorVideos":            {fanfare.ENotFound},
	"mySubscriptionPlan":       {},
	"setSubscriptionPlan":      {fanfare.ENotFound},
	"creatorSubscriptionPlan":  {fanfare.ENotFound},
	"subscribe": {fanfare.ENotFound, fanfare.EIdempotencyKeyRequired, fanfare.EIdempotencyConflict,
		fanfare.ENotEligible, fanfare.ERegionBlocked, fanfare.EConflict,
		fanfare.EInsufficientFunds, fanfare.EWalletFrozen, fanfare.ESpendLimit, fanfare.EUnavailable},
	"mySubscriptions":    {},
	"mySubscribers":      {},
	"getSubscription":    {fanfare.ENotFound},
	"changeSubscription": {fanfare.ENotFound, fanfare.EInvalidState},
	"cancelSubscription": {fanfare.ENotFound, fanfare.EInvalidState},
	"giftSubscriptions": {fanfare.ENotFound, fanfare.EIdempotencyKeyRequired, fanfare.EIdempotencyConflict, fanfare.EInvalidState,
		fanfare.ENotEligible, fanfare.ERegionBlocked, fanfare.ENotEnoughRecipients, fanfare.EConflict,
		fanfare.EInsufficientFunds, fanfare.EWalletFrozen, fanfare.ESpendLimit, fanfare.EUnavailable},
	"requestPayout": {fanfare.EIdempotencyKeyRequired, fanfare.EIdempotencyConflict, fanfare.ENotEligible, fanfare.EPayoutsHeld,
		fanfare.EPayoutAccountRequired, fanfare.EWalletFrozen, fanfare.EInsufficientFunds, fanfare.EPayoutLimit, fanfare.EUnavailable},
	"myPayouts":             {},
	"myPayoutAccount":       {},
	"setMyPayoutAccount":    {},
	"startPayoutOnboarding": {fanfare.EInvalid, fanfare.EUnavailable},
	"setPayoutHold":         {fanfare.ENotFound},
	"myPreferences":         {},
	"setPreferences":        {},
	"creatorEmotes":         {fanfare.ENotFound},
	"deleteEmote":           {fanfare.ENotFound},
	"creatorPosts":          {fanfare.ENotFound},
	"deletePost":            {fanfare.ENotFound},
	// Served outside huma.
	"metrics":    {fanfare.EUnauthorized, fanfare.ENotFound},
	"openapi":    {},
	"liveEvents": {fanfare.EInvalid, fanfare.EForbidden, fanfare.ENotFound, CodeUpgradeRequired},
	"uploadShoutoutVideo": {fanfare.EInvalid, fanfare.EUnauthorized, fanfare.EForbidden, fanfare.ENotFound, fanfare.EInvalidState,
		fanfare.EDeadlinePassed, fanfare.ETooLarge, fanfare.EUnsupportedMedia, fanfare.EUnavailable},
	"shoutoutVideo": {fanfare.EInvalid, fanfare.EUnauthorized, fanfare.EForbidden, fanfare.ENotFound, CodeRangeNotSatisfiable},
	"uploadEmote": {fanfare.EInvalid, fanfare.EUnauthorized, fanfare.EForbidden, fanfare.ENotEligible, fanfare.ERegionBlocked,
		fanfare.ECapacityFull, fanfare.EConflict, fanfare.ETooLarge, fanfare.EUnsupportedMedia},
	"emoteImage": {fanfare.ENotFound, CodeRangeNotSatisfiable},
	"createPost": {fanfare.EInvalid, fanfare.EUnauthorized, fanfare.EForbidden, fanfare.ENotEligible, fanfare.ERegionBlocked,
		fanfare.ETooLarge, fanfare.EUnsupportedMedia},
	"postMedia": {fanfare.EUnauthorized, fanfare.EForbidden, fanfare.ENotFound, fanfare.ESubscribersOnly, CodeRangeNotSatisfiable},
}

// commonCodes returns the codes every operation like op may answer with,
// whatever its handler does: internal; unavailable unless it never reads
// the database (see problemFor); validation_failed when it takes
// parameters or a body (huma checks them); for a body, too large, not
// JSON, or read too slowly; unauthorized and forbidden when it needs an
// actor (unauthorized alone when an actor is optional).
func commonCodes(op *huma.Operation) []string {
	codes := []string{fanfare.EInternal}
	if !withoutDatabase[op.OperationID] {
		codes = append(codes, fanfare.EUnavailable)
	}
	if op.Metadata == nil {
		return codes // served outside huma: its table says it all
	}
	if len(op.Parameters) > 0 || op.RequestBody != nil {
		codes = append(codes, fanfare.EInvalid)
	}
	if op.RequestBody != nil {
		codes = append(codes, fanfare.ETooLarge, CodeRequestTimeout)
		if raw, _ := op.Metadata[rawBodyKey].(bool); !raw {
			codes = append(codes, CodeUnsupportedMediaType)
		}
	}
	switch a, _ := op.Metadata[accessKey].(access); a {
	case user, operator, apiKey, party:
		codes = append(codes, fanfare.EUnauthorized, fanfare.EForbidden)
	case optional:
		codes = append(codes, fanfare.EUnauthorized)
	}
	return codes
}

// withoutDatabase are the operations that never read the database, and so
// never answer unavailable for want of it.
var withoutDatabase = map[string]bool{"healthz": true, "openapi": true, "metrics": true}

// problemCodesKey is the extension that lists, on each error response of
// an operation, the problem codes it is answered with.
const problemCodesKey = "x-problem-codes"

// declareProblems documents, on each of op's responses, the codes it
// declares (commonCodes and problemCodes): every status a code has gets a
// response with the codes in x-problem-codes and in its description, and
// an error status without a code is dropped. It returns the codes by
// status.
func declareProblems(op *huma.Operation) map[int][]string {
	own, ok := problemCodes[op.OperationID]
	if !ok {
		panic("httpapi: no problem codes declared for operation " + op.OperationID + " (see problemCodes)")
	}
	byStatus := map[int][]string{}
	for _, code := range append(commonCodes(op), own...) {
		st := Status(code)
		if code != fanfare.EInternal && st == http.StatusInternalServerError {
			panic("httpapi: operation " + op.OperationID + " declares the unknown problem code " + code)
		}
		if !slices.Contains(byStatus[st], code) {
			byStatus[st] = append(byStatus[st], code)
		}
	}
	for key := range op.Responses {
		st, err := strconv.Atoi(key)
		if err != nil && key == "default" {
			delete(op.Responses, key)
			continue
		}
		if st >= 400 && byStatus[st] == nil {
			delete(op.Responses, key)
		}
	}
	for st, codes := range byStatus {
		slices.Sort(codes)
		key := strconv.Itoa(st)
		r := op.Responses[key]
		if r == nil {
			r = &huma.Response{Content: map[string]*huma.MediaType{
				"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}},
			}}
			op.Responses[key] = r
		}
		r.Description = http.StatusText(st) + ": " + strings.Join(codes, ", ")
		if r.Extensions == nil {
			r.Extensions = map[string]any{}
		}
		r.Extensions[problemCodesKey] = codes
	}
	return byStatus
}

// contract is what the server checks its answers against: the declared
// problem codes of each route ("METHOD /path").
type contract map[string]routeContract

type routeContract struct {
	op    string
	codes map[int][]string
}

// onBreach, when set, is told of every answer that breaks the contract, by
// the servers built after it is set: a problem an operation does not
// declare, or a null array. The tests set it and fail on any; otherwise a
// breach is logged as an error.
var onBreach func(op, what string)

// reportBreach reports that op's answer broke the contract.
func (s *Server) reportBreach(ctx context.Context, op, what string) {
	if s.breach != nil {
		s.breach(op, what)
		return
	}
	loggerFrom(ctx).LogAttrs(ctx, slog.LevelError, "answer breaks the API contract",
		slog.String("operation", op), slog.String("breach", what))
}

// checkProblem reports a problem (status, code) that route answered with
// and did not declare.
func (s *Server) checkProblem(ctx context.Context, route string, status int, code string) {
	rc, ok := s.contract[route]
	if !ok || status < 400 {
		return
	}
	if slices.Contains(rc.codes[status], code) {
		return
	}
	s.reportBreach(ctx, rc.op, fmt.Sprintf("undeclared problem %d %s", status, code))
}

// problemSniffer keeps the code of a problem+json answer as it is written.
type problemSniffer struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (w *problemSniffer) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *problemSniffer) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status >= 400 && len(w.body) < 64<<10 && strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
		w.body = append(w.body, b...)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *problemSniffer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// code returns the code of the problem written, or "".
func (w *problemSniffer) code() string {
	var p struct {
		Code string `json:"code"`
	}
	if len(w.body) == 0 || json.Unmarshal(w.body, &p) != nil {
		return ""
	}
	return p.Code
}

// buildContract declares the problems of every operation of the document
// and returns the contract the server checks its answers against.
func buildContract(oapi *huma.OpenAPI) contract {
	c := contract{}
	for _, path := range slices.Sorted(maps.Keys(oapi.Paths)) {
		item := oapi.Paths[path]
		for method, op := range map[string]*huma.Operation{
			http.MethodGet: item.Get, http.MethodPut: item.Put, http.MethodPost: item.Post,
			http.MethodDelete: item.Delete, http.MethodPatch: item.Patch,
		} {
			if op == nil {
				continue
			}
			c[method+" "+path] = routeContract{op: op.OperationID, codes: declareProblems(op)}
		}
	}
	return c
}
