// Command helloserver is the test image's only binary. Without arguments it
// serves HTTP on :8080: "/" answers "hello $GREETING", "/connect?addr=h:p"
// tries a TCP dial and answers "ok" or "fail: ...". With arguments it is a
// tiny toolbox for exec tests (the image is FROM scratch: there is no shell).
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(tool(os.Args[1], os.Args[2:]))
	}
	http.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		fmt.Printf("request %s\n", req.URL.Path)
		fmt.Fprintf(w, "hello %s", os.Getenv("GREETING"))
	})
	http.HandleFunc("/connect", func(w http.ResponseWriter, req *http.Request) {
		addr := req.URL.Query().Get("addr")
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			fmt.Printf("connect %s: fail\n", addr)
			fmt.Fprintf(w, "fail: %v", err)
			return
		}
		conn.Close()
		fmt.Printf("connect %s: ok\n", addr)
		fmt.Fprint(w, "ok")
	})
	fmt.Println("listening on :8080")
	fmt.Fprintln(os.Stderr, "ready (stderr)")
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func tool(cmd string, args []string) int {
	switch cmd {
	case "echo": // one argument per line
		for _, a := range args {
			fmt.Println(a)
		}
	case "exit": // exit N, saying so on stderr
		n, _ := strconv.Atoi(args[0])
		fmt.Fprintf(os.Stderr, "exiting %d\n", n)
		return n
	case "cat": // stdin to stdout
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "getenv":
		fmt.Print(os.Getenv(args[0]))
	case "readfile":
		b, err := os.ReadFile(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.Stdout.Write(b)
	case "writefile":
		if err := os.WriteFile(args[0], []byte(args[1]), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", cmd)
		return 2
	}
	return 0
}
