package httpapi

// SetOnBreach sets what the servers built from now on tell of every answer
// that breaks the API contract (an undeclared problem code, a null array).
func SetOnBreach(f func(op, what string)) { onBreach = f }
