// sart-sockopt: the few socket and namespace calls Node 20 cannot make (Node has no FFI; under
// Bun, host/sockopt/ffi.ts makes the same calls through bun:ffi). A Node-API
// addon, so one build loads in every Node version. Every function returns the
// call's result, or -errno on failure; host/sockopt/sockets.ts turns those into
// errors. Sockets are created non-blocking and close-on-exec, as the runtimes
// expect of an fd they adopt.
#define _GNU_SOURCE /* setns */
#include <errno.h>
#include <linux/filter.h>
#include <node_api.h>
#include <poll.h>
#include <time.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#define ARGS(n)                \
  size_t argc = n;             \
  napi_value argv[n];          \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) \
    return throw_type(env, "expected " #n " arguments")

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value result(napi_env env, int r) {
  napi_value v;
  napi_create_int32(env, r < 0 ? -errno : r, &v);
  return v;
}

static int int_arg(napi_env env, napi_value v, int *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

/** The bytes of a Uint8Array (or any typed array). */
static int bytes_arg(napi_env env, napi_value v, void **data, size_t *len) {
  napi_typedarray_type type;
  size_t length, offset;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) != napi_ok) return 0;
  size_t width = type == napi_uint8_array || type == napi_int8_array || type == napi_uint8_clamped_array ? 1
               : type == napi_int16_array || type == napi_uint16_array ? 2
               : type == napi_float64_array || type == napi_bigint64_array || type == napi_biguint64_array ? 8 : 4;
  *len = length * width;
  return 1;
}

// socket(domain, type, protocol)
static napi_value js_socket(napi_env env, napi_callback_info info) {
  ARGS(3);
  int domain, type, protocol;
  if (!int_arg(env, argv[0], &domain) || !int_arg(env, argv[1], &type) || !int_arg(env, argv[2], &protocol)) return throw_type(env, "socket(domain, type, protocol): integers");
  return result(env, socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
}

// setsockopt(fd, level, name, value bytes)
static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  ARGS(4);
  int fd, level, name;
  void *data;
  size_t len;
  if (!int_arg(env, argv[0], &fd) || !int_arg(env, argv[1], &level) || !int_arg(env, argv[2], &name) || !bytes_arg(env, argv[3], &data, &len))
    return throw_type(env, "setsockopt(fd, level, name, bytes)");
  return result(env, setsockopt(fd, level, name, data, (socklen_t)len));
}

// getsockopt(fd, level, name, out bytes) -> the option's length
static napi_value js_getsockopt(napi_env env, napi_callback_info info) {
  ARGS(4);
  int fd, level, name;
  void *data;
  size_t len;
  if (!int_arg(env, argv[0], &fd) || !int_arg(env, argv[1], &level) || !int_arg(env, argv[2], &name) || !bytes_arg(env, argv[3], &data, &len))
    return throw_type(env, "getsockopt(fd, level, name, bytes)");
  socklen_t l = (socklen_t)len;
  int r = getsockopt(fd, level, name, data, &l);
  return result(env, r < 0 ? r : (int)l);
}

static napi_value addr_call(napi_env env, napi_callback_info info, int (*call)(int, const struct sockaddr *, socklen_t)) {
  ARGS(2);
  int fd;
  void *data;
  size_t len;
  if (!int_arg(env, argv[0], &fd) || !bytes_arg(env, argv[1], &data, &len)) return throw_type(env, "(fd, sockaddr bytes)");
  return result(env, call(fd, data, (socklen_t)len));
}

static napi_value js_bind(napi_env env, napi_callback_info info) { return addr_call(env, info, bind); }
static napi_value js_connect(napi_env env, napi_callback_info info) { return addr_call(env, info, connect); }

// poll(fd, events) -> revents, without waiting
static napi_value js_poll(napi_env env, napi_callback_info info) {
  ARGS(2);
  int fd, events;
  if (!int_arg(env, argv[0], &fd) || !int_arg(env, argv[1], &events)) return throw_type(env, "poll(fd, events)");
  struct pollfd p = {.fd = fd, .events = (short)events};
  int r = poll(&p, 1, 0);
  return result(env, r < 0 ? r : p.revents);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  int fd;
  if (!int_arg(env, argv[0], &fd)) return throw_type(env, "close(fd)");
  return result(env, close(fd));
}

// attachFilter(fd, classic BPF program bytes): SO_ATTACH_FILTER, whose struct holds a pointer.
static napi_value js_attach_filter(napi_env env, napi_callback_info info) {
  ARGS(2);
  int fd;
  void *data;
  size_t len;
  if (!int_arg(env, argv[0], &fd) || !bytes_arg(env, argv[1], &data, &len) || len % sizeof(struct sock_filter)) return throw_type(env, "attachFilter(fd, program bytes)");
  struct sock_fprog prog = {.len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = data};
  return result(env, setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog));
}

// setns(fd, nstype): the calling thread (the JS thread) into another namespace.
static napi_value js_setns(napi_env env, napi_callback_info info) {
  ARGS(2);
  int fd, nstype;
  if (!int_arg(env, argv[0], &fd) || !int_arg(env, argv[1], &nstype)) return throw_type(env, "setns(fd, nstype)");
  return result(env, setns(fd, nstype));
}

// send(fd, bytes) -> the bytes sent
static napi_value js_send(napi_env env, napi_callback_info info) {
  ARGS(2);
  int fd;
  void *data;
  size_t len;
  if (!int_arg(env, argv[0], &fd) || !bytes_arg(env, argv[1], &data, &len)) return throw_type(env, "send(fd, bytes)");
  return result(env, (int)send(fd, data, len, MSG_NOSIGNAL));
}

// recv(fd, out bytes, timeoutMs) -> the length read; -EAGAIN when nothing came within timeoutMs
static napi_value js_recv(napi_env env, napi_callback_info info) {
  ARGS(3);
  int fd, timeout;
  void *data;
  size_t len;
  if (!int_arg(env, argv[0], &fd) || !bytes_arg(env, argv[1], &data, &len) || !int_arg(env, argv[2], &timeout)) return throw_type(env, "recv(fd, bytes, timeoutMs)");
  struct pollfd p = {.fd = fd, .events = POLLIN};
  // A signal to the process (a child's exit, SIGHUP) ends poll(2) with EINTR whatever
  // SA_RESTART says: wait out the rest of the time.
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  int r, left = timeout;
  while ((r = poll(&p, 1, left)) < 0 && errno == EINTR) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (timeout >= 0) left = elapsed >= timeout ? 0 : (int)(timeout - elapsed); // < 0: no limit, still none
  }
  if (r <= 0) {
    if (r == 0) errno = EAGAIN;
    return result(env, -1);
  }
  return result(env, (int)recv(fd, data, len, MSG_DONTWAIT));
}

NAPI_MODULE_INIT() {
  static const struct { const char *name; napi_callback fn; } fns[] = {
    {"socket", js_socket}, {"setsockopt", js_setsockopt}, {"getsockopt", js_getsockopt}, {"bind", js_bind},
    {"connect", js_connect}, {"poll", js_poll}, {"close", js_close}, {"attachFilter", js_attach_filter},
    {"setns", js_setns}, {"send", js_send}, {"recv", js_recv},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, fns[i].name, f) != napi_ok) return NULL;
  }
  return exports;
}
