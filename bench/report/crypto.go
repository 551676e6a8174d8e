package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Ceiling is raw ES256 work (crypto/ecdsa on P-256, SHA-256 of a
// token-sized input) on the same cores as the servers: the most tokens/s a
// server that did nothing but sign could serve.
type Ceiling struct {
	Op      string
	Workers int
	PerSec  float64
	Load    float64
}

// es256Ceilings measures sign and verify with one goroutine and with one per
// core, each for d.
func es256Ceilings(d time.Duration) ([]Ceiling, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	// A signing input of an access token's size.
	msg := make([]byte, 600)
	_, _ = rand.Read(msg)
	sum := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		return nil, err
	}
	ops := map[string]func() bool{
		// RFC 6979 nonces (no random source), as the broker signs
		// (tokens/keys.go, appendES256).
		"ES256 sign": func() bool {
			h := sha256.Sum256(msg)
			_, err := key.Sign(nil, h[:], crypto.SHA256)
			return err == nil
		},
		"ES256 verify": func() bool {
			h := sha256.Sum256(msg)
			return ecdsa.VerifyASN1(&key.PublicKey, h[:], sig)
		},
	}
	var out []Ceiling
	for _, name := range []string{"ES256 sign", "ES256 verify"} {
		for _, workers := range []int{1, runtime.NumCPU()} {
			c := Ceiling{Op: name, Workers: workers, Load: loadAvg()}
			c.PerSec = spin(ops[name], workers, d)
			out = append(out, c)
		}
	}
	return out, nil
}

// spin runs fn in workers goroutines for d and returns calls per second.
func spin(fn func() bool, workers int, d time.Duration) float64 {
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if fn() {
					n.Add(1)
				}
			}
		})
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}
