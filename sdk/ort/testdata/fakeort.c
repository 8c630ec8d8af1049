/* A stand-in for an old or broken libonnxruntime.so, compiled by
 * ort_test.go with cc -shared. With -DNO_API it lacks OrtGetApiBase;
 * otherwise it reports version FAKE_VERSION and offers no C API version
 * newer than 16, like ONNX Runtime 1.16. */
#include <stddef.h>
#include <stdint.h>

#ifndef NO_API
#ifndef FAKE_VERSION
#define FAKE_VERSION "1.16.3"
#endif

typedef struct {
	const void *(*GetApi)(uint32_t version);
	const char *(*GetVersionString)(void);
} OrtApiBase;

static int api_table; /* stands in for the OrtApi struct */

static const void *get_api(uint32_t version) {
	return version <= 16 ? (const void *)&api_table : NULL;
}

static const char *get_version(void) { return FAKE_VERSION; }

static const OrtApiBase base = {get_api, get_version};

const OrtApiBase *OrtGetApiBase(void) { return &base; }
#else
int not_onnxruntime(void) { return 0; }
#endif
