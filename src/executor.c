#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>

#include "executor.h"

struct job {
	executor_fn  fn;
	void        *arg;
	struct job  *next;
};

struct executor {
	pthread_mutex_t  lock;
	pthread_cond_t   work;
	struct job      *head, *tail;
	int              stopping;
	unsigned         nthreads;
	pthread_t        threads[];
};

static void *
executor_thread(void *arg)
{
	struct executor *ex = arg;
	struct job *j;

	pthread_mutex_lock(&ex->lock);
	for (;;) {
		while (ex->head == NULL && !ex->stopping)
			pthread_cond_wait(&ex->work, &ex->lock);
		if ((j = ex->head) == NULL)
			break;                  /* stopping, queue empty */
		if ((ex->head = j->next) == NULL)
			ex->tail = NULL;
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
	ex = calloc(1, sizeof(*ex) + nthreads * sizeof(ex->threads[0]));
	if (ex == NULL)
		return NULL;
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

int
executor_submit(struct executor *ex, executor_fn fn, void *arg)
{
	struct job *j;

	if ((j = malloc(sizeof(*j))) == NULL)
		return -1;
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&ex->lock);
	if (ex->stopping) {
		pthread_mutex_unlock(&ex->lock);
		free(j);
		return -1;
	}
	if (ex->tail != NULL)
		ex->tail->next = j;
	else
		ex->head = j;
	ex->tail = j;
	pthread_cond_signal(&ex->work);
	pthread_mutex_unlock(&ex->lock);
	return 0;
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
