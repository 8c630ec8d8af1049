//go:build cgo

package imageproc

/*
#cgo LDFLAGS: -ljpeg
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

// Results of gozoo_jpeg_decode.
enum {
	GOZOO_JPEG_OK = 0,
	GOZOO_JPEG_ERROR = 1,     // libjpeg error or data-damaging warning; msg says which
	GOZOO_JPEG_TOO_LARGE = 2, // width*height over max_pixels; w, h are set
	GOZOO_JPEG_COMPONENTS = 3,// not 1, 3 or 4 components; comps is set
	GOZOO_JPEG_NOMEM = 4      // malloc of the pixel buffer failed
};

// The most scans a progressive image may have; more is a decoding bomb.
#define GOZOO_JPEG_MAX_SCANS 1000

typedef struct {
	struct jpeg_error_mgr pub;
	struct jpeg_progress_mgr progress;
	jmp_buf jump;
	char msg[JMSG_LENGTH_MAX];
} gozoo_jpeg_err;

typedef struct {
	int w, h, comps;
	unsigned char *pix; // malloc'd w*h*comps samples, rows top to bottom
	char msg[JMSG_LENGTH_MAX];
} gozoo_jpeg_result;

static void gozoo_jpeg_error_exit(j_common_ptr c) {
	gozoo_jpeg_err *e = (gozoo_jpeg_err *)c->err;
	(*c->err->format_message)(c, e->msg);
	longjmp(e->jump, 1);
}

// Warnings (level -1) that leave the pixels intact are counted; any other
// warning means damaged data (libjpeg would fill the rest with gray), so
// decoding stops with an error, as PIL raises one.
static void gozoo_jpeg_emit_message(j_common_ptr c, int level) {
	gozoo_jpeg_err *e = (gozoo_jpeg_err *)c->err;
	if (level >= 0) {
		return;
	}
	e->pub.num_warnings++;
	switch (e->pub.msg_code) {
	case JWRN_ADOBE_XFORM:
	case JWRN_JFIF_MAJOR:
	case JWRN_EXTRANEOUS_DATA:
	case JWRN_BOGUS_ICC:
		return;
	}
	(*c->err->format_message)(c, e->msg);
	longjmp(e->jump, 1);
}

static void gozoo_jpeg_progress(j_common_ptr c) {
	gozoo_jpeg_err *e = (gozoo_jpeg_err *)c->err;
	if (c->is_decompressor &&
	    ((j_decompress_ptr)c)->input_scan_number > GOZOO_JPEG_MAX_SCANS) {
		snprintf(e->msg, sizeof e->msg, "more than %d scans", GOZOO_JPEG_MAX_SCANS);
		longjmp(e->jump, 1);
	}
}

// gozoo_jpeg_decode decodes the JPEG in data[0:size] with PIL's settings
// (JDCT_ISLOW, fancy upsampling) to grayscale, RGB or CMYK samples. Every
// libjpeg error longjmps back here, never across Go frames. On success
// r->pix is malloc'd and the caller frees it; otherwise it is NULL.
static int gozoo_jpeg_decode(const unsigned char *data, unsigned long size,
                             unsigned long long max_pixels, gozoo_jpeg_result *r) {
	struct jpeg_decompress_struct cinfo;
	gozoo_jpeg_err err;
	unsigned char *volatile pix = NULL;

	r->pix = NULL;
	r->msg[0] = 0;
	memset(&cinfo, 0, sizeof cinfo); // jpeg_destroy_decompress is then safe at any point
	cinfo.err = jpeg_std_error(&err.pub);
	err.pub.error_exit = gozoo_jpeg_error_exit;
	err.pub.emit_message = gozoo_jpeg_emit_message;
	err.msg[0] = 0;
	if (setjmp(err.jump)) {
		snprintf(r->msg, sizeof r->msg, "%s", err.msg);
		jpeg_destroy_decompress(&cinfo);
		free(pix);
		return GOZOO_JPEG_ERROR;
	}
	jpeg_create_decompress(&cinfo);
	err.progress.progress_monitor = gozoo_jpeg_progress;
	cinfo.progress = &err.progress;
	jpeg_mem_src(&cinfo, data, size);
	jpeg_read_header(&cinfo, TRUE);
	r->w = (int)cinfo.image_width;
	r->h = (int)cinfo.image_height;
	r->comps = cinfo.num_components;
	if ((unsigned long long)cinfo.image_width * cinfo.image_height > max_pixels) {
		jpeg_destroy_decompress(&cinfo);
		return GOZOO_JPEG_TOO_LARGE;
	}
	switch (cinfo.num_components) {
	case 1:
		cinfo.out_color_space = JCS_GRAYSCALE;
		break;
	case 3:
		cinfo.out_color_space = JCS_RGB;
		break;
	case 4:
		cinfo.out_color_space = JCS_CMYK;
		break;
	default:
		jpeg_destroy_decompress(&cinfo);
		return GOZOO_JPEG_COMPONENTS;
	}
	cinfo.dct_method = JDCT_ISLOW;
	cinfo.do_fancy_upsampling = TRUE;
	jpeg_start_decompress(&cinfo);
	if ((int)cinfo.output_width != r->w || (int)cinfo.output_height != r->h ||
	    cinfo.output_components != r->comps) {
		snprintf(r->msg, sizeof r->msg, "unexpected output %ux%ux%d",
		         cinfo.output_width, cinfo.output_height, cinfo.output_components);
		jpeg_destroy_decompress(&cinfo);
		return GOZOO_JPEG_ERROR;
	}
	size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
	pix = malloc(stride * cinfo.output_height);
	if (pix == NULL) {
		jpeg_destroy_decompress(&cinfo);
		return GOZOO_JPEG_NOMEM;
	}
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = pix + stride * cinfo.output_scanline;
		if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
			snprintf(r->msg, sizeof r->msg, "no scanline %u", cinfo.output_scanline);
			jpeg_destroy_decompress(&cinfo);
			free(pix);
			return GOZOO_JPEG_ERROR;
		}
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	r->pix = pix;
	return GOZOO_JPEG_OK;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// decodeJPEG decodes a JPEG with the system libjpeg exactly as PIL does
// and converts it to RGB as PIL's convert("RGB") does: grayscale is
// replicated, CMYK is read as Adobe-inverted ("CMYK;I", PIL's assumption
// for every 4-component JPEG) and converted with PIL's formula. Images over
// MaxPixels are refused after the header, before any pixel is decoded.
func decodeJPEG(b []byte) (*RGB, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: jpeg: empty", ErrCorrupt)
	}
	var r C.gozoo_jpeg_result
	status := C.gozoo_jpeg_decode((*C.uchar)(unsafe.Pointer(&b[0])), C.ulong(len(b)), C.ulonglong(MaxPixels), &r)
	switch status {
	case C.GOZOO_JPEG_OK:
	case C.GOZOO_JPEG_TOO_LARGE:
		return nil, fmt.Errorf("%w: %dx%d jpeg has more than %d pixels (a decompression bomb or a huge scan: downscale it first)",
			ErrTooLarge, int(r.w), int(r.h), MaxPixels)
	case C.GOZOO_JPEG_COMPONENTS:
		return nil, fmt.Errorf("%w: jpeg has %d colour components; only grayscale (1), RGB/YCbCr (3) and CMYK/YCCK (4) are supported: re-save it as RGB",
			ErrFormat, int(r.comps))
	case C.GOZOO_JPEG_NOMEM:
		return nil, fmt.Errorf("%w: %dx%d jpeg: out of memory for its pixels", ErrTooLarge, int(r.w), int(r.h))
	default:
		return nil, fmt.Errorf("%w: jpeg: %s (the file is truncated or damaged: re-download or re-encode it)",
			ErrCorrupt, C.GoString(&r.msg[0]))
	}
	defer C.free(unsafe.Pointer(r.pix))
	w, h, comps := int(r.w), int(r.h), int(r.comps)
	src := unsafe.Slice((*uint8)(unsafe.Pointer(r.pix)), w*h*comps)
	out := NewRGB(w, h)
	switch comps {
	case 3:
		copy(out.Pix, src)
	case 1:
		for i, v := range src {
			out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = v, v, v
		}
	case 4:
		for i := 0; i < w*h; i++ {
			// "CMYK;I": stored inverted, so 255-s is the ink and s is 255-ink.
			s := src[4*i : 4*i+4]
			nk := int(s[3])
			for c := 0; c < 3; c++ {
				out.Pix[3*i+c] = clip8(nk - mulDiv255(255-int(s[c]), nk))
			}
		}
	}
	return out, nil
}
