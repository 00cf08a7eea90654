#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>

#include "alloc.h"
#include "executor.h"

struct job {
	executor_fn  fn;
	void        *arg;
	struct job  *next;
};

/* Two FIFO lanes: urgent jobs are taken first. */
enum lane { LANE_URGENT, LANE_ORDINARY, LANE_COUNT };

struct queue {
	struct job      *head, *tail;
};

struct executor {
	pthread_mutex_t  lock;
	pthread_cond_t   work;
	struct queue     lanes[LANE_COUNT];
	int              stopping;
	unsigned         nthreads;
	pthread_t        threads[];
};

/* The next job, urgent first; NULL when both lanes are empty. */
static struct job *
take(struct executor *ex)
{
	struct queue *q;
	struct job *j;
	int i;

	for (i = 0; i < LANE_COUNT; i++) {
		q = &ex->lanes[i];
		if ((j = q->head) == NULL)
			continue;
		if ((q->head = j->next) == NULL)
			q->tail = NULL;
		return j;
	}
	return NULL;
}

static void *
executor_thread(void *arg)
{
	struct executor *ex = arg;
	struct job *j;

	pthread_mutex_lock(&ex->lock);
	for (;;) {
		while ((j = take(ex)) == NULL && !ex->stopping)
			pthread_cond_wait(&ex->work, &ex->lock);
		if (j == NULL)
			break;                  /* stopping, queue empty */
		pthread_mutex_unlock(&ex->lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&ex->lock);
	}
	pthread_mutex_unlock(&ex->lock);
	return NULL;
}

struct executor *
executor_create(unsigned nthreads)
{
	struct executor *ex;

	if (nthreads == 0)
		nthreads = 1;
	ex = kr_calloc(1, sizeof(*ex) + nthreads * sizeof(ex->threads[0]));
	pthread_mutex_init(&ex->lock, NULL);
	pthread_cond_init(&ex->work, NULL);
	for (; ex->nthreads < nthreads; ex->nthreads++)
		if (pthread_create(&ex->threads[ex->nthreads], NULL,
		    executor_thread, ex) != 0) {
			executor_destroy(ex);
			return NULL;
		}
	return ex;
}

static int
submit(struct executor *ex, enum lane lane, executor_fn fn, void *arg)
{
	struct queue *q = &ex->lanes[lane];
	struct job *j;

	j = kr_malloc(sizeof(*j));
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&ex->lock);
	if (ex->stopping) {
		pthread_mutex_unlock(&ex->lock);
		free(j);
		return -1;
	}
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	pthread_cond_signal(&ex->work);
	pthread_mutex_unlock(&ex->lock);
	return 0;
}

int
executor_submit(struct executor *ex, executor_fn fn, void *arg)
{
	return submit(ex, LANE_ORDINARY, fn, arg);
}

int
executor_submit_urgent(struct executor *ex, executor_fn fn, void *arg)
{
	return submit(ex, LANE_URGENT, fn, arg);
}

void
executor_destroy(struct executor *ex)
{
	unsigned i;

	if (ex == NULL)
		return;
	pthread_mutex_lock(&ex->lock);
	ex->stopping = 1;
	pthread_cond_broadcast(&ex->work);
	pthread_mutex_unlock(&ex->lock);
	for (i = 0; i < ex->nthreads; i++)
		pthread_join(ex->threads[i], NULL);
	pthread_cond_destroy(&ex->work);
	pthread_mutex_destroy(&ex->lock);
	free(ex);
}
