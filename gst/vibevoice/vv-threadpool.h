/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * VvParallelFunc:
 * @task: index of the task, 0 .. n_tasks-1
 * @n_tasks: number of tasks
 * @user_data: user data
 *
 * One slice of a parallel loop (see vv_thread_pool_run()).
 */
typedef void (*VvParallelFunc) (gint task, gint n_tasks, gpointer user_data);

typedef struct _VvThreadPool VvThreadPool;

/* A fixed set of GThreads created once per engine (the caller's thread is
 * worker 0), woken for each parallel loop; no thread creation per op. */
VvThreadPool *vv_thread_pool_new (gint n_threads, GError **error);
void          vv_thread_pool_free (VvThreadPool *pool);
gint          vv_thread_pool_get_n_threads (VvThreadPool *pool);
/* Runs func(task, n_tasks) for every task in [0, n_tasks), spread over the
 * pool's threads, and returns when all have finished. Not reentrant. */
void          vv_thread_pool_run (VvThreadPool *pool, gint n_tasks,
                                  VvParallelFunc func, gpointer user_data);
/* Number of CPU threads to use when the user asked for 0 (auto). */
gint          vv_thread_pool_default_n_threads (void);

G_END_DECLS
