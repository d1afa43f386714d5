package main

import (
	"context"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// cdpGetCookies sends Network.getCookies for url on the tab tg.
func cdpGetCookies(ctx context.Context, tg *chromedp.Target, url string) ([]*network.Cookie, error) {
	res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	return res.Cookies, err
}
