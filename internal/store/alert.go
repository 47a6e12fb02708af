package store

// AlertStore is budgets, alert rules, alert history and webhook deliveries.
type AlertStore interface {
}
