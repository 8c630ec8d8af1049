package ort

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// gozooApiBase mirrors OrtApiBase from onnxruntime_c_api.h: two function
// pointers, stable across every ONNX Runtime release.
typedef struct {
	const void *(*GetApi)(uint32_t version);
	const char *(*GetVersionString)(void);
} gozooApiBase;

typedef const gozooApiBase *(*gozooGetApiBase)(void);

static void gozooCopy(char *dst, int n, const char *src) {
	if (n <= 0) return;
	if (src == NULL) src = "";
	strncpy(dst, src, n - 1);
	dst[n - 1] = 0;
}

// gozooProbeORT opens the library at path and asks it for its version and
// for the C API version wanted. It returns 0 when the API is there, 1 when
// dlopen fails, 2 when OrtGetApiBase is missing, 3 when the library is too
// old for the API version. On success the library stays loaded.
static int gozooProbeORT(const char *path, uint32_t api, char *ver, int verlen, char *err, int errlen) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		gozooCopy(err, errlen, dlerror());
		return 1;
	}
	gozooGetApiBase fn = (gozooGetApiBase)dlsym(h, "OrtGetApiBase");
	if (fn == NULL) {
		gozooCopy(err, errlen, dlerror());
		dlclose(h);
		return 2;
	}
	const gozooApiBase *base = fn();
	if (base == NULL || base->GetVersionString == NULL || base->GetApi == NULL) {
		gozooCopy(err, errlen, "OrtGetApiBase returned no API");
		dlclose(h);
		return 2;
	}
	gozooCopy(ver, verlen, base->GetVersionString());
	if (base->GetApi(api) == NULL) {
		dlclose(h);
		return 3;
	}
	return 0;
}

// gozooDLCheck reports whether name can be dlopened, copying dlerror into
// err when it cannot. A library that loads stays loaded: provider libraries
// are loaded again by ONNX Runtime itself and must not be unloaded under it.
static int gozooDLCheck(const char *name, char *err, int errlen) {
	void *h = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
	if (h == NULL) {
		gozooCopy(err, errlen, dlerror());
		return 1;
	}
	return 0;
}
*/
import "C"

import (
	"strings"
	"unsafe"
)

// probeStatus is the result of probeLibrary.
type probeStatus int

const (
	probeOK probeStatus = iota
	probeOpenFailed
	probeNotORT
	probeTooOld
)

// probeLibrary dlopens an ONNX Runtime library and reports its version
// string and whether it offers C API version api.
func probeLibrary(path string, api uint32) (status probeStatus, version, msg string) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var ver [128]C.char
	var errBuf [1024]C.char
	rc := C.gozooProbeORT(cpath, C.uint32_t(api), &ver[0], C.int(len(ver)), &errBuf[0], C.int(len(errBuf)))
	return probeStatus(rc), C.GoString(&ver[0]), strings.TrimSpace(C.GoString(&errBuf[0]))
}

// dlopenCheck returns "" when the shared library name (a path or a name
// the dynamic loader searches for) loads, else the loader's message.
func dlopenCheck(name string) string {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var errBuf [1024]C.char
	if C.gozooDLCheck(cname, &errBuf[0], C.int(len(errBuf))) == 0 {
		return ""
	}
	return strings.TrimSpace(C.GoString(&errBuf[0]))
}
