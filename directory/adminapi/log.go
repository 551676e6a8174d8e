package adminapi

import "log/slog"

// Short helpers so log calls stay on one line. Callers never pass secrets:
// no Authorization header, API key, token or client secret is ever logged.

func slogString(k, v string) slog.Attr { return slog.String(k, v) }

func slogInt(k string, v int) slog.Attr { return slog.Int(k, v) }

func levelFor(status int) slog.Level {
	if status == 503 {
		return slog.LevelWarn
	}
	return slog.LevelError
}
