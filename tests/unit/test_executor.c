#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "executor.h"
#include "unit.h"

/* One executor thread, held busy by a first job until released, so that
 * what is queued behind it runs in the executor's chosen order. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t  cond;
	int             open;
	char            order[16];
	size_t          n;
};

static struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
    0, "", 0 };

static void
hold(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&g.lock);
	while (!g.open)
		pthread_cond_wait(&g.cond, &g.lock);
	pthread_mutex_unlock(&g.lock);
}

static void
note(void *arg)
{
	pthread_mutex_lock(&g.lock);
	if (g.n + 1 < sizeof(g.order))
		g.order[g.n++] = *(const char *)arg;
	pthread_mutex_unlock(&g.lock);
}

static void
test_urgent_jobs_run_before_ordinary_ones(void)
{
	static const char a = 'a', b = 'b', u = 'U', v = 'V';
	struct executor *ex = executor_create(1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(ex);
	CU_ASSERT_EQUAL(executor_submit(ex, hold, NULL), 0);
	usleep(20 * 1000);              /* the thread is inside hold() */
	CU_ASSERT_EQUAL(executor_submit(ex, note, (void *)&a), 0);
	CU_ASSERT_EQUAL(executor_submit(ex, note, (void *)&b), 0);
	CU_ASSERT_EQUAL(executor_submit_urgent(ex, note, (void *)&u), 0);
	CU_ASSERT_EQUAL(executor_submit_urgent(ex, note, (void *)&v), 0);
	pthread_mutex_lock(&g.lock);
	g.open = 1;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	executor_destroy(ex);           /* runs what is queued, then joins */
	CU_ASSERT_STRING_EQUAL(g.order, "UVab");
}

void
suite_executor(void)
{
	CU_pSuite s = CU_add_suite("executor", NULL, NULL);

	ADD_TEST(s, test_urgent_jobs_run_before_ordinary_ones);
}
