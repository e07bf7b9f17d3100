package httpserve

import (
	"context"
	"crypto/tls"
	"log"
	"net"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// cloneServer copies every exported field of http.Server: a field a
// later Go adds fails this test instead of being dropped silently.
func TestCloneServerCopiesEverySetting(t *testing.T) {
	var p http.Protocols
	p.SetHTTP1(true)
	give := &http.Server{
		Addr:                         "x:1",
		Handler:                      http.NotFoundHandler(),
		DisableGeneralOptionsHandler: true,
		TLSConfig:                    &tls.Config{},
		ReadTimeout:                  1,
		ReadHeaderTimeout:            2,
		WriteTimeout:                 3,
		IdleTimeout:                  4 * time.Second,
		MaxHeaderBytes:               5,
		TLSNextProto:                 map[string]func(*http.Server, *tls.Conn, http.Handler){"x": nil},
		ConnState:                    func(net.Conn, http.ConnState) {},
		ErrorLog:                     log.Default(),
		BaseContext:                  func(net.Listener) context.Context { return nil },
		ConnContext:                  func(ctx context.Context, _ net.Conn) context.Context { return ctx },
		HTTP2:                        &http.HTTP2Config{},
		Protocols:                    &p,
	}
	got := cloneServer(give)
	gv, wv := reflect.ValueOf(got).Elem(), reflect.ValueOf(give).Elem()
	for i := range wv.NumField() {
		f := wv.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if wv.Field(i).IsZero() {
			t.Errorf("the test sets no value for http.Server.%s: add it here and to cloneServer", f.Name)
			continue
		}
		if gv.Field(i).IsZero() {
			t.Errorf("cloneServer does not copy http.Server.%s", f.Name)
		}
	}
	got.Handler = nil
	if give.Handler == nil {
		t.Error("the clone shares state with the template")
	}
}
