#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "listener.h"
#include "unit.h"

/* The socket file ends up owned by the service user, and only the socket:
 * the chown never goes through a link. */
static void
test_listener_socket_owner(void)
{
	char dir[] = "/tmp/keyrota-listen-XXXXXX", path[128];
	struct listener l;
	struct config cfg;
	struct stat st;
	char err[256];
	uid_t owner = geteuid() == 0 ? 65534 : geteuid();
	gid_t group = geteuid() == 0 ? 65534 : getegid();

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen_kind = LISTEN_UNIX;
	snprintf(cfg.listen_path, sizeof(cfg.listen_path), "%s/k.sock", dir);
	snprintf(path, sizeof(path), "%s", cfg.listen_path);
	CU_ASSERT_EQUAL_FATAL(listener_open(&l, &cfg, owner, group, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(lstat(path, &st), 0);
	CU_ASSERT_TRUE(S_ISSOCK(st.st_mode));
	CU_ASSERT_EQUAL(st.st_uid, owner);
	CU_ASSERT_EQUAL(st.st_gid, group);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0660);
	listener_close(&l);
	CU_ASSERT_NOT_EQUAL(lstat(path, &st), 0);

	/* A symlink in its place is refused, not followed. */
	CU_ASSERT_EQUAL(symlink("/etc/hostname", path), 0);
	CU_ASSERT_EQUAL(listener_open(&l, &cfg, owner, group, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a socket"));
	CU_ASSERT_EQUAL(stat("/etc/hostname", &st), 0);
	CU_ASSERT_EQUAL(st.st_uid, 0);
	unlink(path);
	rmdir(dir);
}

void
suite_listener(void)
{
	CU_pSuite s = CU_add_suite("listener", NULL, NULL);

	ADD_TEST(s, test_listener_socket_owner);
}
