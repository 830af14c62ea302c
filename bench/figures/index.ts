import type { Figure } from '../lib/figure'
import { p1 } from './p1-latency'
import { p2 } from './p2-burst'
import { p3 } from './p3-invalidation'
import { p4 } from './p4-patch'
import { p5 } from './p5-size'
import { p6 } from './p6-cycles'
import { p7 } from './p7-load'
import { p8 } from './p8-cross-node'
import { p9 } from './p9-storm'
import { p10 } from './p10-resume'
import { p11 } from './p11-follower-send'
import { p12 } from './p12-sockets'
import { p13 } from './p13-presence'
import { p14 } from './p14-typing'
import { p15 } from './p15-handoff'

/** In table order. */
export const FIGURES: Figure[] = [p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15]
