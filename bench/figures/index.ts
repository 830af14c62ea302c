import type { Figure } from '../lib/figure'
import { p5 } from './p5-size'

/** In table order. */
export const FIGURES: Figure[] = [p5]
