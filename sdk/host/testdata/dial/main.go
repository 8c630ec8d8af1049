// Command dial tries to drive a gozoo plugin through its Unix socket, as
// another local program could: it connects, then calls Describe over TLS
// with the client certificate it is given (or none), then in plain text.
// It prints one line per attempt and exits 0 only when a Describe
// answered.
//
// Usage: dial SOCKET [CERT.pem KEY.pem]
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	sock := os.Args[1]
	c, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Println("connect:", err)
		os.Exit(1)
	}
	c.Close()
	fmt.Println("connect: ok")
	tc := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"} // an attacker need not trust the plugin
	if len(os.Args) == 4 {
		cert, err := tls.LoadX509KeyPair(os.Args[2], os.Args[3])
		if err != nil {
			fmt.Println("cert:", err)
			os.Exit(3)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	ok := describe(sock, "tls", grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	ok = describe(sock, "plain", grpc.WithTransportCredentials(insecure.NewCredentials())) || ok
	if !ok {
		os.Exit(1)
	}
}

func describe(sock, what string, cred grpc.DialOption) bool {
	cc, err := grpc.NewClient("unix://"+sock, cred)
	if err != nil {
		fmt.Println(what+":", err)
		return false
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := backbonev1.NewBackboneClient(cc).Describe(ctx, &backbonev1.DescribeRequest{})
	if err != nil {
		fmt.Println(what+":", err)
		return false
	}
	fmt.Println(what+": ok", d.GetName())
	return true
}
