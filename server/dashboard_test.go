package server

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the dashboard test's screenshot to docs/dashboard.png")

// chromium returns the path of a Chromium, skipping the test without one
// (failing it in CI, where scripts/deps.sh installs Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium: scripts/deps.sh installs Debian's chromium")
	}
	t.Skip("no Chromium installed")
	return ""
}

// TestDashboard opens the dashboard in headless Chromium with the token,
// sees the three pipelines deliver, clicks pause on one and sees its state
// change, and saves a screenshot (docs/dashboard.png with
// -update-screenshot, else a file in the temp directory).
func TestDashboard(t *testing.T) {
	chrome := chromium(t)
	e := newFixtureEnv(t, map[string]string{
		"orders": "fixture://?txs=1000000&rows=2&follow=on&interval=3ms&tables=orders,order_items",
		"audit":  "fixture://?txs=1000000&rows=1&follow=on&interval=7ms&tables=audit",
		"users":  "fixture://?txs=1000000&rows=1&follow=on&interval=20ms&tables=users",
	})
	// The dashboard's chart samples every 2 s by default; faster here.
	e.srv.Close()
	srv, err := New(Options{Supervisor: e.sup, Token: testToken, HistoryInterval: 250 * time.Millisecond, HistoryLength: 60})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e.ts.Config.Handler = srv.Handler()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 820),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	card := func(name string) chromedp.CSS { return chromedp.CSS(`.pipeline[data-pipeline="` + name + `"]`) }
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), testToken),
		chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)),
		chromedp.WaitVisible(card("orders")),
		chromedp.WaitVisible(card("audit")),
		chromedp.WaitVisible(card("users")),
	); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	// Every pipeline shows a throughput above zero.
	var rates map[string]float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		rates, err = chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`Object.fromEntries([...document.querySelectorAll(".pipeline")].map(
			el => [el.dataset.pipeline, parseFloat(el.querySelector(".rate").textContent.replace(/,/g, "")) || 0]))`))
		if err != nil {
			t.Fatal(err)
		}
		if len(rates) == 3 && rates["orders"] > 0 && rates["audit"] > 0 && rates["users"] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("throughput shown: %v", rates)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(4 * time.Second) // let the charts fill a little for the screenshot
	if err := chromedp.Do(ctx,
		chromedp.Click(card("audit")+` button[data-action="pause"]`),
		chromedp.WaitVisible(card("audit")+`[data-state="paused"]`),
	); err != nil {
		t.Fatalf("pause from the dashboard: %v", err)
	}
	state, err := chromedp.Run(ctx, chromedp.TextContent(card("audit")+" .state"))
	if err != nil {
		t.Fatal(err)
	}
	if state != "paused" {
		t.Errorf("audit shows %q after pause", state)
	}
	if v := e.pipeline(t, "audit"); v.State != "paused" {
		t.Errorf("the API says audit is %s", v.State)
	}
	if v := e.pipeline(t, "orders"); v.State != "running" {
		t.Errorf("orders is %s: pausing audit touched it", v.State)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(os.TempDir(), "sluice-dashboard.png")
	if *updateScreenshot {
		out = "../docs/dashboard.png"
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(png))
}
