// Package rpctest lists the RPCs of a proto package, for tests that must
// cover every one of them: authorization tables and matrices.
package rpctest

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Methods returns every RPC of the proto package pkg (such as "berth.v1")
// from the compiled descriptors, so a new RPC shows up without anyone
// listing it. It fails the test when it finds fewer than atLeast, which
// means the generated code is not linked into the test.
func Methods(tb testing.TB, pkg protoreflect.FullName, atLeast int) []protoreflect.MethodDescriptor {
	tb.Helper()
	var methods []protoreflect.MethodDescriptor
	protoregistry.GlobalFiles.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				methods = append(methods, sd.Methods().Get(j))
			}
		}
		return true
	})
	if len(methods) < atLeast {
		tb.Fatalf("found only %d %s methods; is the generated code linked?", len(methods), pkg)
	}
	return methods
}

// FullMethod returns md's gRPC method name, "/package.Service/Method".
func FullMethod(md protoreflect.MethodDescriptor) string {
	return "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
}
