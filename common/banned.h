/* banned.h: functions that are too easy to misuse; using one fails the build.
 * (After git's banned.h.) Use snprintf, memcpy with checked lengths, strtok_r.
 */
#ifndef SC_BANNED_H
#define SC_BANNED_H

#define SC_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) SC_BANNED(strcpy)
#undef strcat
#define strcat(x, y) SC_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) SC_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) SC_BANNED(strncat)
#undef sprintf
#define sprintf(...) SC_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) SC_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) SC_BANNED(strtok)
#undef gets
#define gets(x) SC_BANNED(gets)

#endif
