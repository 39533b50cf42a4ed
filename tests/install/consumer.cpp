// The C++ side of tests/install-check.sh: includes the installed synod.hpp
// (which includes synod.h from the same directory) and uses its RAII types
// and exceptions. Prints "consumer++ ok" last; exits 1 on any failure.
#include <iostream>
#include <string>

#include <synod.hpp>

int main()
{
    int failures = 0;
    auto expect = [&](bool ok, const std::string &what) {
        if (!ok) {
            std::cerr << "FAIL " << what << "\n";
            failures++;
        }
    };

    std::cout << "version " << synod::version() << "\n";
    expect(synod::version() == std::to_string(SYNOD_VERSION_MAJOR) + "." +
                                   std::to_string(SYNOD_VERSION_MINOR) + "." +
                                   std::to_string(SYNOD_VERSION_PATCH),
           "header and library versions differ");

    auto id = synod::identity::parse(" CN=node-b ");
    std::cout << "identity " << id.str() << "\n";
    expect(id.str() == "CN=node-b", "identity not trimmed");

    try {
        synod::identity::parse("");
        expect(false, "an empty identity was accepted");
    } catch (const synod::error &e) {
        std::cout << "refused " << e.status_name() << ": " << e.what() << "\n";
        expect(e.status() == SYNOD_ERR_INVALID_IDENTITY, "wrong status for an empty identity");
    }

    if (failures != 0) {
        return 1;
    }
    std::cout << "consumer++ ok\n";
    return 0;
}
